// pending.hpp - (internal to src/fs) a file written through the mount and not
// yet confirmed in the bucket, and an open-file handle.
//
// A Pending is shared by the open handles that use it and by the registry
// (pending_registry.hpp), which guards its namespace and state fields. Its
// staging files follow stage/staging_area.hpp's rule: a file that carries a
// closed mark is never changed; a change forks a new staging file.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bucketfs/fs/caches.hpp"
#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/prefetcher.hpp"
#include "bucketfs/stage/closed_mark.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::fs {

struct Filesystem::Pending {
  // The file's lock: data changes, commits and namespace changes of this file.
  // Lock order: after Filesystem::mutate_mu_, before PendingRegistry::mu_ and
  // FileHandle::mu; held across staging I/O, downloads and Uploader::cancel.
  RankedMutex mu{LockRank::FsPending, /*nested=*/true};

  // A closed generation whose staging file carries its mark and whose upload
  // is queued or running.
  struct Queued {
    std::string path;  // its staging file
    stage::ClosedMark mark;
  };

  // Guarded by PendingRegistry::mu_.
  std::string path;          // mount-relative
  std::string staging_path;  // the current .data file in the staging area
  Attr attr;                 // what stat shows: size, mode, uid, gid, mtime
  uint64_t generation = 0;   // of the last commit
  int writers = 0;           // open writer handles, plus operations in progress (pins)
  bool dirty = false;        // changed since the last commit
  bool unlinked = false;     // removed from the namespace: never commit again
  // The newest closed generation not yet confirmed: the current file, or the
  // file a change forked off (its upload goes on while the fork is written).
  std::optional<Queued> queued;
  std::vector<std::string> superseded;  // older files, removed once a newer generation is queued

  // Whether the current file carries a closed mark (so a change must fork).
  bool current_marked() const { return queued && queued->path == staging_path; }

  // Upload while writing (Uploader::open_stream), under mu. While every
  // write appended to a file that began empty, each part the writer finishes
  // is sent before close. Once a stream is open every change bumps the write
  // version of the parts it touches, and the close keeps exactly the parts
  // sent with the bytes it closes (StreamHandoff).
  bool appending = false;              // every write so far appended (from empty)
  bool stream_tried = false;           // open_stream was asked (once per file)
  uint64_t stream = 0;                 // the uploader's stream, 0: none
  uint64_t stream_part = 0;            // its part size
  std::vector<uint64_t> part_version;  // index part - 1

  // [off, off + len) changed (any write).
  void changed(uint64_t off, uint64_t len) {
    if (stream == 0 || len == 0) return;
    const uint64_t last = (off + len - 1) / stream_part;
    if (part_version.size() <= last) part_version.resize(last + 1, 0);
    for (uint64_t i = off / stream_part; i <= last; ++i) ++part_version[i];
  }
  // Cut (or extended) to size: every part from the one holding size on changed.
  void resized(uint64_t size) {
    appending = false;
    if (stream == 0) return;
    for (uint64_t i = size / stream_part; i < part_version.size(); ++i) ++part_version[i];
  }

  // The current file, open O_RDWR. `fd` can be read without any lock (reads);
  // a fork swaps it under mu, and the older descriptor stays open in `retired`
  // until the Pending goes, so a read in progress never sees it closed.
  std::atomic<int> fd{-1};
  Fd current;               // owns fd (mu)
  std::vector<Fd> retired;  // (mu)

  void set_file(Fd f) {
    fd = f.get();
    if (current) retired.push_back(std::move(current));
    current = std::move(f);
  }
};

// A private copy of an object unlinked while open for reading (no name in
// the staging directory, so never uploaded), read until the handles close.
struct Filesystem::LocalCopy {
  Fd fd;
  uint64_t size = 0;
};

struct Filesystem::FileHandle {
  RankedMutex mu{LockRank::FsHandle};  // one open file's read state; after Pending::mu, before every leaf lock
  Ino ino = 0;
  std::string path;  // at open (a rename does not change it)
  int flags = 0;
  Attr attr;                           // of the object in the bucket, at open
  std::unique_ptr<Prefetcher> reader;  // reads of an object in the bucket
  std::shared_ptr<LocalCopy> local;    // ...or of its copy, once it was unlinked (mu)
  std::shared_ptr<Pending> pending;    // reads/writes of a staged file
  bool writer = false;                 // opened for writing (counted in pending->writers)
  std::atomic<bool> accessed{false};   // its first read updated atime
};

}  // namespace bucketfs::fs
