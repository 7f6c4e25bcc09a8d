// pending.hpp - (internal to src/fs) open-file handles, and a file written through the mount and not
// yet confirmed in the bucket. Shared by the open handles that use it; its
// staging fd closes when the last of them lets go.
#pragma once

#include <unistd.h>

#include <memory>
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

  int fd = -1;  // O_RDWR on the staging file; set once, closed by the destructor

  ~Pending() {
    if (fd >= 0) ::close(fd);
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
