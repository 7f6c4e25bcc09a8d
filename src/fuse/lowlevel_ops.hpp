// lowlevel_ops.hpp - private to src/fuse/: the libfuse low-level callback
// table and the per-session state its callbacks reach via fuse_req_userdata().
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

namespace bucketfs::fs {
class Filesystem;
}

namespace bucketfs::fusefs {

struct SessionState {
  fs::Filesystem* fs = nullptr;  // borrowed; outlives the session
  bool read_only = false;        // mutating requests get EROFS before reaching fs/
};

// The callbacks: each sends exactly one reply (none for forget), and no
// exception leaves a callback (std::bad_alloc -> ENOMEM, anything else -> EIO).
const fuse_lowlevel_ops& lowlevel_ops();

}  // namespace bucketfs::fusefs
