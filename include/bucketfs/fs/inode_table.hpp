// inode_table.hpp - inode numbers for mount-relative paths, with FUSE lookup
// counts.
//
// An inode lives while the kernel holds references (lookup count > 0); the
// root (ino 1) lives forever. Unlinking detaches an inode from its path (it
// may still be referenced); a path whose type changed gets a new inode, so the
// kernel never sees a file turn into a directory under one number.
// Thread-safety: one internal mutex, a leaf lock (never held while calling out).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::fs {

using Ino = uint64_t;
constexpr Ino kRootIno = 1;

class InodeTable {
 public:
  InodeTable();

  // The inode of path with file type type (S_IFREG/S_IFDIR/S_IFLNK), created
  // (or replaced if the type differs) as needed; adds n lookup references.
  Ino ref(const std::string& path, mode_t type, uint64_t n);
  // The inode currently bound to path, or 0.
  Ino find(const std::string& path) const;
  // false if ino is unknown or detached (its path is gone).
  bool path_of(Ino ino, std::string* path, mode_t* type = nullptr) const;
  // Drops n references; erases the inode at zero (never the root).
  void forget(Ino ino, uint64_t n);
  // Rebinds path and every path under it to the new location; whatever was
  // bound at the destination is detached.
  void rename(const std::string& from, const std::string& to);
  // Detaches path (and, for a directory, everything under it).
  void detach(const std::string& path);
  size_t size() const;
  uint64_t lookup_count(Ino ino) const;

 private:
  struct Node {
    std::string path;
    mode_t type = 0;
    uint64_t nlookup = 0;
    bool attached = true;
  };
  void detach_locked(const std::string& path);

  mutable RankedMutex mu_{LockRank::FsLeaf};  // leaf lock
  std::unordered_map<Ino, Node> nodes_;
  std::map<std::string, Ino> by_path_;  // attached nodes only
  Ino next_ = kRootIno + 1;
};

}  // namespace bucketfs::fs
