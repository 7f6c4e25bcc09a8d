// pending.hpp - (internal to src/fs) open-file handles, and a file written through the mount and not
// yet confirmed in the bucket. Shared by the open handles that use it; its
// staging fd closes when the last of them lets go.
#pragma once

#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>
#include <mutex>
#include <string>

#include "bucketfs/fs/caches.hpp"
#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/prefetcher.hpp"

namespace bucketfs::fs {

struct Filesystem::Pending {
  std::mutex mu;  // serialises data changes and commits of this file (see the lock order)

  // Guarded by Filesystem::pending_mu_.
  std::string path;          // mount-relative
  std::string staging_path;  // the .data file in the staging area
  Attr attr;                 // what stat shows: size, mode, uid, gid, mtime
  uint64_t generation = 0;   // of the last commit
  int writers = 0;           // open writer handles, plus changes in progress (pins)
  bool dirty = false;        // changed since the last commit
  bool submitted = false;    // the last commit is queued/uploading
  bool unlinked = false;     // removed from the namespace: never commit again

  // O_RDWR on the current staging file. Read without pending_mu_ by reads;
  // a new generation forked off a closed one swaps it (the old descriptor
  // stays open in retired_fds until the Pending goes, so a read in progress
  // never sees it closed).
  std::atomic<int> fd{-1};
  std::vector<int> retired_fds;                 // guarded by mu
  std::vector<std::string> superseded_staging;  // closed generations' files, removed after the next commit (mu)

  ~Pending() {
    if (fd >= 0) ::close(fd);
    for (int f : retired_fds) ::close(f);
  }
};

struct Filesystem::FileHandle {
  std::mutex mu;  // after mutate_mu_ and Pending::mu, before every leaf lock
  Ino ino = 0;
  std::string path;
  int flags = 0;
  std::unique_ptr<Prefetcher> reader;  // reads of an object in the bucket
  std::shared_ptr<Pending> pending;     // reads/writes of a staged file
  bool writer = false;                  // opened for writing (counted in pending->writers)
};

}  // namespace bucketfs::fs
