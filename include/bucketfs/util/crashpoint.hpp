// crashpoint.hpp - named points where a test can kill the daemon (SIGKILL).
//
// The crash campaign kills bucketfs *inside* close, rename, unlink and upload
// completion, not only between operations. Each step of those paths that
// changes durable state is a crash point:
//
//   BFS_CRASHPOINT("close.data_synced");
//
// Off unless the environment sets BUCKETFS_CRASH_AT=PATTERN[:N]: the N-th
// (default first) hit of a point whose name matches PATTERN kills the process
// with SIGKILL. PATTERN is a name, or a prefix ending in '*' ("close.*", "*").
// BUCKETFS_CRASH_NOTE=FILE appends the name of the point that fired to FILE
// first, so a test knows where the kill happened. When off, a crash point is
// one relaxed atomic load.
#pragma once

#include <atomic>

namespace bucketfs::crashpoint {

// Reads the environment once (called by the first hit; idempotent).
void init();
// Called by BFS_CRASHPOINT when enabled.
void hit(const char* name);

extern std::atomic<int> g_state;  // 0 unknown, 1 off, 2 on

}  // namespace bucketfs::crashpoint

#define BFS_CRASHPOINT(name)                                                             \
  do {                                                                                   \
    int bfs_cp_state_ = ::bucketfs::crashpoint::g_state.load(std::memory_order_relaxed); \
    if (bfs_cp_state_ == 0) {                                                            \
      ::bucketfs::crashpoint::init();                                                    \
      bfs_cp_state_ = ::bucketfs::crashpoint::g_state.load(std::memory_order_relaxed);   \
    }                                                                                    \
    if (bfs_cp_state_ == 2) ::bucketfs::crashpoint::hit(name);                           \
  } while (0)
