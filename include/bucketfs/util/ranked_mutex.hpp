// ranked_mutex.hpp - a mutex with a place in the lock order, checked.
//
// Every RankedMutex has a rank; a thread may only acquire a mutex whose rank
// is higher than that of every mutex it already holds (or equal, for a rank
// declared `nested`: the per-file locks a rename takes two of, in a fixed
// order of its own). The order written beside each mutex is thereby enforced,
// not only written: with BUCKETFS_LOCK_RANKS defined (the sanitizer builds,
// `make check-asan` / `check-tsan`, which CI runs) an acquisition out of order
// prints both locks and aborts at once, instead of deadlocking one day under
// load. Without it the checks compile away and RankedMutex is a std::mutex.
//
// The ranks of the whole program, lowest (taken first) to highest:
#pragma once

#include <mutex>

namespace bucketfs {

enum class LockRank : int {
  FsMutate = 10,      // Filesystem::mutate_mu_: namespace changes, across store calls
  FsPending = 20,     // Filesystem::Pending::mu (nested: a rename holds two)
  FsHandle = 30,      // Filesystem::FileHandle::mu: one open file's read state
  UploadRecord = 40,  // Uploader::Job::record_mu: a job's checkpoint writes; the done handler runs under it
  UploadQueue = 50,   // Uploader::mu_: jobs and their state
  FsRegistry = 60,    // PendingRegistry::mu_: the pending files' map
  FsLeaf = 70,        // MetaCache, AtimeTable, InodeTable, HandleTable: leaves (never two at once)
};

const char* lock_rank_name(LockRank r);

class RankedMutex {
 public:
  explicit RankedMutex(LockRank rank, bool nested = false) : rank_(rank), nested_(nested) {}
  RankedMutex(const RankedMutex&) = delete;
  RankedMutex& operator=(const RankedMutex&) = delete;

  void lock() {
#ifdef BUCKETFS_LOCK_RANKS
    check_acquire();
#endif
    mu_.lock();
#ifdef BUCKETFS_LOCK_RANKS
    note_acquired();
#endif
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;  // a try never waits: it cannot deadlock
#ifdef BUCKETFS_LOCK_RANKS
    note_acquired();
#endif
    return true;
  }
  void unlock() {
#ifdef BUCKETFS_LOCK_RANKS
    note_released();
#endif
    mu_.unlock();
  }
  LockRank rank() const { return rank_; }

 private:
#ifdef BUCKETFS_LOCK_RANKS
  void check_acquire() const;
  void note_acquired();
  void note_released();
#endif
  std::mutex mu_;
  const LockRank rank_;
  const bool nested_;
};

}  // namespace bucketfs
