// handle_table.hpp - open file and directory handles by
// the number the kernel hands back (fuse_file_info::fh).
//
// Invariants: a number is never reused while the mount runs; get() hands out
// a shared reference, so a handle released while a request still uses it
// lives until that request ends. Lock: mu_ is a leaf lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::fs {

template <class H>
class HandleTable {
 public:
  uint64_t add(std::shared_ptr<H> h) {
    std::lock_guard lk(mu_);
    uint64_t fh = next_++;
    map_.emplace(fh, std::move(h));
    return fh;
  }
  // nullptr for an unknown number (EBADF to the caller).
  std::shared_ptr<H> get(uint64_t fh) const {
    std::lock_guard lk(mu_);
    auto it = map_.find(fh);
    return it == map_.end() ? nullptr : it->second;
  }
  // Removes and returns the handle (nullptr if unknown).
  std::shared_ptr<H> take(uint64_t fh) {
    std::lock_guard lk(mu_);
    auto it = map_.find(fh);
    if (it == map_.end()) return nullptr;
    auto h = std::move(it->second);
    map_.erase(it);
    return h;
  }
  // The handles for which pred(const H&) holds. pred runs under the table's
  // lock: it may read only what does not change after the handle is added.
  template <class Pred>
  std::vector<std::shared_ptr<H>> select(Pred pred) const {
    std::lock_guard lk(mu_);
    std::vector<std::shared_ptr<H>> out;
    for (const auto& [fh, h] : map_)
      if (pred(*h)) out.push_back(h);
    return out;
  }
  // Empties the table (the handles go outside the lock).
  void clear() {
    std::map<uint64_t, std::shared_ptr<H>> gone;
    {
      std::lock_guard lk(mu_);
      gone.swap(map_);
    }
  }

 private:
  mutable RankedMutex mu_{LockRank::FsLeaf};
  std::map<uint64_t, std::shared_ptr<H>> map_;
  uint64_t next_ = 1;
};

}  // namespace bucketfs::fs
