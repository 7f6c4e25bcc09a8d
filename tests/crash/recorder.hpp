// recorder.hpp - the recorded run: bucketfs mounted in-process over a
// MemoryObjectStore whose changes are logged (bucket_replay.hpp), running the
// workload (workload.hpp), under the LD_PRELOAD recorder (trace_shim_*.c),
// in a child process of the checker so that the checker itself is not traced.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "harness_mount.hpp"
#include "workload.hpp"

namespace crash {

struct RecordConfig {
  MountConfig mount;  // mount.cache_dir: the traced directory (must not exist yet)
  WorkloadConfig workload;
  uint64_t min_part_size = 64 * 1024;
  // Each bucket change is slowed by this much, so uploads lag behind the
  // workload and many files are pending at any moment.
  std::chrono::microseconds mutation_delay{1500};
};

// Runs in the traced process: establishes the cache dir (a first mount and
// unmount, as an earlier mount leaves it), begins the trace, puts the
// initial objects, mounts, runs the workload, waits for the uploads, and
// unmounts. "" or an error line.
std::string record(const RecordConfig& cfg);

// Runs `self args...` with the shim preloaded, tracing cache_dir into
// trace_path, and waits (timeout). "" or an error line. While it runs, its
// pid is in recording_child (for a signal handler to stop it), else 0.
extern volatile pid_t recording_child;
std::string record_in_child(const std::string& self, const std::string& shim, const std::vector<std::string>& args,
                            const std::string& cache_dir, const std::string& trace_path,
                            std::chrono::seconds timeout);

}  // namespace crash
