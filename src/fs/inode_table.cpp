// inode_table.cpp - see inode_table.hpp.
#include "bucketfs/fs/inode_table.hpp"

#include <sys/stat.h>

#include <vector>

#include "bucketfs/fs/key_mapper.hpp"

namespace bucketfs::fs {

InodeTable::InodeTable() {
  nodes_[kRootIno] = Node{"", S_IFDIR, 1, true};
  by_path_[""] = kRootIno;
}

Ino InodeTable::ref(const std::string& path, mode_t type, uint64_t n) {
  std::lock_guard<RankedMutex> lk(mu_);
  type &= S_IFMT;
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    Node& node = nodes_[it->second];
    if (node.type == type || it->second == kRootIno) {
      node.nlookup += n;
      return it->second;
    }
    // The object changed type behind our back: a fresh inode number.
    node.attached = false;
    by_path_.erase(it);
  }
  Ino ino = next_++;
  nodes_[ino] = Node{path, type, n, true};
  by_path_[path] = ino;
  return ino;
}

Ino InodeTable::find(const std::string& path) const {
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = by_path_.find(path);
  return it == by_path_.end() ? 0 : it->second;
}

bool InodeTable::path_of(Ino ino, std::string* path, mode_t* type) const {
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || !it->second.attached) return false;
  *path = it->second.path;
  if (type) *type = it->second.type;
  return true;
}

void InodeTable::forget(Ino ino, uint64_t n) {
  if (ino == kRootIno) return;
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& node = it->second;
  node.nlookup = n >= node.nlookup ? 0 : node.nlookup - n;
  if (node.nlookup > 0) return;
  if (node.attached) {
    auto p = by_path_.find(node.path);
    if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
  }
  nodes_.erase(it);
}

void InodeTable::detach_locked(const std::string& path) {
  std::vector<std::string> gone;
  auto it = by_path_.lower_bound(path);
  for (; it != by_path_.end(); ++it) {
    if (it->first != path && !KeyMapper::is_under(it->first, path)) {
      // Keys under "path/" sort after "path" but "path-x" may sort between.
      if (it->first.compare(0, path.size(), path) != 0) break;
      continue;
    }
    if (it->second == kRootIno) continue;
    gone.push_back(it->first);
  }
  for (const auto& p : gone) {
    auto node = by_path_.find(p);
    nodes_[node->second].attached = false;
    by_path_.erase(node);
  }
}

void InodeTable::detach(const std::string& path) {
  std::lock_guard<RankedMutex> lk(mu_);
  detach_locked(path);
}

void InodeTable::rename(const std::string& from, const std::string& to) {
  std::lock_guard<RankedMutex> lk(mu_);
  detach_locked(to);
  std::vector<std::pair<std::string, Ino>> moved;
  for (auto it = by_path_.lower_bound(from); it != by_path_.end(); ++it) {
    if (it->first.compare(0, from.size(), from) != 0) break;
    if (it->first == from || KeyMapper::is_under(it->first, from)) moved.emplace_back(it->first, it->second);
  }
  for (const auto& [old_path, ino] : moved) {
    by_path_.erase(old_path);
    std::string new_path = to + old_path.substr(from.size());
    nodes_[ino].path = new_path;
    by_path_[new_path] = ino;
  }
}

size_t InodeTable::size() const {
  std::lock_guard<RankedMutex> lk(mu_);
  return nodes_.size();
}

uint64_t InodeTable::lookup_count(Ino ino) const {
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? 0 : it->second.nlookup;
}

}  // namespace bucketfs::fs
