// lowlevel_ops.hpp - private to src/fuse/: the libfuse low-level callback
// table and the per-session state its callbacks reach via fuse_req_userdata().
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

namespace bucketfs::fs {
class Filesystem;
}

namespace bucketfs::fusefs {

// The largest read and write requests asked for in INIT (the kernel's
// FUSE_MAX_MAX_PAGES), and the read-ahead set on the mount's device
// (readahead.hpp: INIT alone does not raise it above 128 KiB).
constexpr unsigned kMaxRequestBytes = 1u << 20;

struct SessionState {
  fs::Filesystem* fs = nullptr;  // borrowed; outlives the session
  bool read_only = false;        // mutating requests get EROFS before reaching fs/
};

// The callbacks: each sends exactly one reply (none for forget), and no
// exception leaves a callback (std::bad_alloc -> ENOMEM, anything else -> EIO).
const fuse_lowlevel_ops& lowlevel_ops();

}  // namespace bucketfs::fusefs
