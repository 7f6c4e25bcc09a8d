// pending_registry.cpp - see pending_registry.hpp.
#include "pending_registry.hpp"

#include <algorithm>
#include <ctime>

#include "bucketfs/fs/key_mapper.hpp"

namespace bucketfs::fs {

PendingRegistry::PendingRegistry() {
  // Generations order the versions of a key across mounts too (a leftover
  // staging file of an older one is recognised as superseded): start from the
  // clock, and above every generation found at mount (saw_generation).
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  next_generation_ = static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

PendingRegistry::Ptr PendingRegistry::find(const std::string& path) const {
  std::lock_guard lk(mu_);
  return find_locked(path);
}

PendingRegistry::Ptr PendingRegistry::find_locked(const std::string& path) const {
  auto it = map_.find(path);
  return it == map_.end() ? nullptr : it->second;
}

bool PendingRegistry::insert(const Ptr& p) {
  std::lock_guard lk(mu_);
  return map_.emplace(p->path, p).second;
}

uint64_t PendingRegistry::next_generation() {
  std::lock_guard lk(mu_);
  return next_generation_++;
}

void PendingRegistry::saw_generation(uint64_t g) {
  std::lock_guard lk(mu_);
  next_generation_ = std::max(next_generation_, g + 1);
}

std::vector<PendingRegistry::Ptr> PendingRegistry::under(const std::string& path) const {
  std::lock_guard lk(mu_);
  std::vector<Ptr> out;
  for (const auto& [p, pf] : map_)
    if (path.empty() || p == path || KeyMapper::is_under(p, path)) out.push_back(pf);
  return out;
}

bool PendingRegistry::has_children(const std::string& dir) const {
  std::lock_guard lk(mu_);
  auto it = dir.empty() ? map_.begin() : map_.lower_bound(dir + "/");
  return it != map_.end() && (dir.empty() || KeyMapper::is_under(it->first, dir));
}

bool PendingRegistry::stat(const std::string& path, Attr* out, bool* is_dir) const {
  std::lock_guard lk(mu_);
  auto it = map_.lower_bound(path);
  if (it != map_.end() && it->first == path) {
    *out = it->second->attr;
    *is_dir = false;
    return true;
  }
  it = map_.lower_bound(path + "/");
  if (it != map_.end() && KeyMapper::is_under(it->first, path)) {
    *is_dir = true;
    return true;
  }
  return false;
}

std::map<std::string, Attr> PendingRegistry::entries_in(const std::string& dir, const Attr& dir_attr) const {
  std::map<std::string, Attr> extra;
  std::lock_guard lk(mu_);
  auto it = dir.empty() ? map_.begin() : map_.lower_bound(dir + "/");
  for (; it != map_.end(); ++it) {
    const std::string& p = it->first;
    if (!dir.empty() && !KeyMapper::is_under(p, dir)) break;
    std::string rest = dir.empty() ? p : p.substr(dir.size() + 1);
    auto slash = rest.find('/');
    if (slash == std::string::npos)
      extra[rest] = it->second->attr;
    else if (!extra.count(rest.substr(0, slash)))
      extra[rest.substr(0, slash)] = dir_attr;
  }
  return extra;
}

void PendingRegistry::erase_locked(const Ptr& p) {
  auto it = map_.find(p->path);
  if (it != map_.end() && it->second == p) map_.erase(it);
}

PendingRegistry::Ptr PendingRegistry::move_locked(const Ptr& p, const std::string& to) {
  erase_locked(p);
  Ptr replaced;
  if (auto it = map_.find(to); it != map_.end() && it->second != p) {
    replaced = std::move(it->second);
    map_.erase(it);
  }
  p->path = to;
  map_[to] = p;
  return replaced;
}

}  // namespace bucketfs::fs
