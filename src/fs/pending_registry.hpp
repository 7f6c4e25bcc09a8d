// pending_registry.hpp - (internal to src/fs) the files written through the
// mount and not yet confirmed in the bucket, by mount-relative path.
//
// Invariants:
//  - A path has at most one Pending; a Pending is under at most one path and
//    its `path` field says which (a renamed one moves, an unlinked one leaves).
//  - Generations are handed out in increasing order, across mounts too (they
//    start from the clock and above every generation found at mount), so the
//    newest closed version of a key is always the highest generation.
//  - A Pending with writers (open handles or pins) stays in the registry until
//    it is unlinked or renamed away, whatever its upload does.
// Lock: mu_ is a leaf lock: never held across I/O or a call into the
// Uploader; it guards the map and the registry-guarded fields of every
// Pending (pending.hpp). Callers that read or change those fields take it
// through lock().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bucketfs/util/ranked_mutex.hpp"
#include "pending.hpp"

namespace bucketfs::fs {

class PendingRegistry {
 public:
  using Pending = Filesystem::Pending;
  using Ptr = std::shared_ptr<Pending>;

  PendingRegistry();

  // Guards the registry and the Pending fields it owns.
  std::unique_lock<RankedMutex> lock() const { return std::unique_lock(mu_); }

  // All of these take the lock themselves.
  Ptr find(const std::string& path) const;
  // Adds p under p->path; false if the path already has a Pending.
  bool insert(const Ptr& p);
  // A new generation number (higher than every one handed out or seen).
  uint64_t next_generation();
  void saw_generation(uint64_t g);
  // Every Pending at `path` or under `path`/ (all of them for "").
  std::vector<Ptr> under(const std::string& path) const;
  // Whether some Pending lies under `dir`/.
  bool has_children(const std::string& dir) const;
  // Attributes of path if a Pending is there (*is_dir false) or below it
  // (*is_dir true: a directory that exists because of its pending files).
  bool stat(const std::string& path, Attr* out, bool* is_dir) const;
  // Names directly in dir that pending files add: name -> attributes (a
  // subdirectory that only pending files make gets `dir_attr`).
  std::map<std::string, Attr> entries_in(const std::string& dir, const Attr& dir_attr) const;

  // Under lock(): remove p from the map if it is there under its path.
  void erase_locked(const Ptr& p);
  // Under lock(): move p to `to` (a Pending already there is returned, removed).
  Ptr move_locked(const Ptr& p, const std::string& to);
  Ptr find_locked(const std::string& path) const;

 private:
  mutable RankedMutex mu_{LockRank::FsRegistry};
  std::map<std::string, Ptr> map_;
  uint64_t next_generation_ = 1;
};

}  // namespace bucketfs::fs
