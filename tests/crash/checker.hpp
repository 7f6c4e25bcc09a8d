// checker.hpp - one crash state, recovered in-process and checked: the state
// is written into the cache dir (at the path the recorded run used: records
// hold absolute staging paths), the bucket is a copy of the bucket at the
// crash point, bucketfs "mounts" (harness_mount.hpp), recovery and the
// uploads run until the uploader is idle (or a timeout fails the state), it
// unmounts, and the invariants are checked:
//   - the bucket against the expectations (expectations.hpp);
//   - at most one upload job per key during recovery: a second multipart
//     upload created while one of the same key is open, or a key completed
//     twice, is "two-jobs";
//   - requests per key during recovery <= 3 * parts + 10 ("request-loop");
//   - no multipart upload left open that recovery created, or that a
//     record of the crash state owned ("open-upload"); uploads no durable
//     record knew of are counted as orphans (not a violation: recovery
//     cannot know them);
//   - recovery mounts ("mount-failed") and finishes: no upload pass fails
//     ("upload-failed") and the uploader goes idle ("recovery-stuck").
// Not thread-safe (one state at a time).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "bucketfs/store/memory_object_store.hpp"
#include "expectations.hpp"
#include "fs_state.hpp"
#include "harness_mount.hpp"

namespace crash {

struct CheckConfig {
  MountConfig mount;  // mount.cache_dir: where each state is written
  std::chrono::milliseconds timeout{30000};
  std::string log_path;  // bucketfs's log file (the checker reads the recovery's lines from it)
};

struct Verdict {
  std::vector<Violation> violations;
  std::vector<std::string> log;  // the recovery's WARN and ERROR lines
  size_t orphans = 0;
  bool ok() const { return violations.empty(); }
};

class Checker {
 public:
  explicit Checker(CheckConfig cfg);
  Verdict check(const FsState& st, const bucketfs::store::MemoryObjectStore& bucket, const Expectations& exp);

 private:
  std::map<std::string, Object> snapshot(bucketfs::store::MemoryObjectStore& s);
  std::vector<std::string> new_log_lines();

  CheckConfig cfg_;
  std::map<std::string, std::string> sha_by_etag_;  // the bucket's objects recur from state to state
  long log_offset_ = 0;
};

}  // namespace crash
