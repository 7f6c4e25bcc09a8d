// lowlevel_ops.hpp - private to src/fuse/: the libfuse low-level callback
// table and the per-session state its callbacks reach via fuse_req_userdata().
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "bucketfs/fs/filesystem.hpp"

namespace bucketfs::fusefs {

// The largest read requests asked for in INIT (the kernel's
// FUSE_MAX_MAX_PAGES), and the read-ahead set on the mount's device
// (readahead.hpp: INIT alone does not raise it above 128 KiB).
constexpr unsigned kMaxReadBytes = 1u << 20;
// The largest write request, and what stat reports as the I/O size
// (fs::kIoBlockBytes): half a read, so that libfuse can splice a whole
// request with its header into a pipe of 1 MiB, the most fs.pipe-max-size
// lets a process without CAP_SYS_RESOURCE have (see op_write_buf). Measured
// on a 1 GiB cp into the mount (RGW memstore, bench workload 1): 4 KiB
// st_blksize (cp writes 128 KiB) 3.42 s of daemon CPU per GiB; 1 MiB writes
// without splice 2.75 s; 512 KiB writes by splice 2.55 s.
constexpr unsigned kMaxWriteBytes = fs::kIoBlockBytes;

struct SessionState {
  fs::Filesystem* fs = nullptr;  // borrowed; outlives the session
  bool read_only = false;        // mutating requests get EROFS before reaching fs/
};

// The callbacks: each sends exactly one reply (none for forget), and no
// exception leaves a callback (std::bad_alloc -> ENOMEM, anything else -> EIO).
const fuse_lowlevel_ops& lowlevel_ops();

}  // namespace bucketfs::fusefs
