// workload.hpp - a seeded sequence of file operations run through
// fs::Filesystem as FUSE would call it (one request at a time), logging each
// request's begin and answer as events (trace_log.hpp) so the expectations
// know which closes, fsyncs, unlinks, renames and chmods had returned at any
// crash point. Uploads run concurrently in the uploader's threads.
//
// Mix: creates, overwrites (O_TRUNC, and reopen + write inside the file),
// appends, renames (to a new name, over an existing file, and of a directory
// holding pending files), unlinks, chmods (also with a writer open), fsyncs,
// and fsync of a directory where Filesystem has fsyncdir; files of 0-600 KiB
// on at least `files` names in three directories and the root.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bucketfs/fs/filesystem.hpp"

namespace crash {

struct WorkloadConfig {
  uint64_t seed = 1;
  int files = 24;  // distinct names written
  int ops = 140;   // operations after the first write of each file
  uint64_t max_size = 600 * 1024;
  bool dir_renames = true;  // false: no rename of a directory (it races uploads today, crash or not)
  uid_t uid = 1000;         // the caller of create
  gid_t gid = 1000;
};

struct InitialObject {
  std::string key;
  std::string data;
  std::map<std::string, std::string> meta;
};

// Older versions of some of the workload's names, to put in the bucket first
// (a stale version is then detectable). Deterministic in the seed.
std::vector<InitialObject> initial_objects(const WorkloadConfig& cfg);

// Runs the workload; "" or an error line (a request failed in a way the
// workload does not expect). Logs "ev bucket-init" for the initial objects
// (which must already be in the bucket) and "ev workload-start/-end".
std::string run_workload(bucketfs::fs::Filesystem& fs, const WorkloadConfig& cfg);

// Deterministic bytes.
std::string make_bytes(uint64_t seed, size_t n);

}  // namespace crash
