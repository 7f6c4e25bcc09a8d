// ranked_mutex.cpp - the lock-order check (see ranked_mutex.hpp).
#include "bucketfs/util/ranked_mutex.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace bucketfs {

const char* lock_rank_name(LockRank r) {
  switch (r) {
    case LockRank::FsMutate: return "Filesystem::mutate_mu_";
    case LockRank::FsPending: return "Filesystem::Pending::mu";
    case LockRank::FsHandle: return "Filesystem::FileHandle::mu";
    case LockRank::UploadRecord: return "Uploader::Job::record_mu";
    case LockRank::UploadQueue: return "Uploader::mu_";
    case LockRank::FsRegistry: return "PendingRegistry::mu_";
    case LockRank::FsLeaf: return "a leaf lock (MetaCache, NegativeCache, InodeTable, HandleTable)";
  }
  return "?";
}

#ifdef BUCKETFS_LOCK_RANKS
namespace {
// The ranked mutexes this thread holds, in acquisition order.
thread_local std::vector<const RankedMutex*> t_held;
}  // namespace

void RankedMutex::check_acquire() const {
  for (const RankedMutex* h : t_held) {
    if (h == this) {
      std::fprintf(stderr, "bucketfs: lock order: %s acquired twice by one thread\n", lock_rank_name(rank_));
      std::abort();
    }
    const bool ok = h->rank_ < rank_ || (h->rank_ == rank_ && nested_);
    if (!ok) {
      std::fprintf(stderr, "bucketfs: lock order violated: %s (rank %d) acquired while holding %s (rank %d)\n",
                   lock_rank_name(rank_), static_cast<int>(rank_), lock_rank_name(h->rank_),
                   static_cast<int>(h->rank_));
      std::abort();
    }
  }
}

void RankedMutex::note_acquired() { t_held.push_back(this); }

void RankedMutex::note_released() {
  auto it = std::find(t_held.rbegin(), t_held.rend(), this);
  if (it != t_held.rend()) t_held.erase(std::next(it).base());
}
#endif

}  // namespace bucketfs
