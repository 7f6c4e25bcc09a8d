// status_command.hpp - `bucketfs status`: what is waiting to be uploaded.
//
// Opens the checkpoint store read-only, so it works while the mount runs and
// after it stopped. Three forms: progress bars on a terminal, plain lines
// otherwise, and --json (stable; documented in the man page).
// A mount is found through its runtime record (runtime_registry.hpp), so
// `status MOUNTPOINT` needs no --cache-dir; --cache-dir DIR (the mount's
// cache_dir) finds the state of a mount whose record is gone (a reboot).
// The record also tells whether the mount runs and how its credentials are
// (why uploads wait when they have expired).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bucketfs/checkpoint/record.hpp"
#include "bucketfs/cli/runtime_registry.hpp"

namespace bucketfs::cli {

// What the mount's runtime record says (runtime_registry.hpp), when there is
// one, and whether that mount is running: the status lines show the record's
// own fields, so they are not copied into a look-alike struct.
struct MountStatus : MountRecord {
  bool running = false;
};

struct StatusSnapshot {
  std::string state_dir;
  std::optional<MountStatus> mount;
  std::vector<checkpoint::UploadRecord> pending;
  std::vector<checkpoint::UploadRecord> failed;  // the failed table
  size_t damaged = 0;                            // records that fail their checksum
};

// Bytes/s per key measured between two refreshes (watch mode); empty otherwise.
using Rates = std::vector<std::pair<std::string, double>>;

std::string render_plain(const StatusSnapshot& s);
std::string render_json(const StatusSnapshot& s);
std::string render_tty(const StatusSnapshot& s, const Rates& rates, int width);
// The mount and credentials lines of plain and tty output ("" without a record).
std::string render_mount(const MountStatus& m);

// The per-bucket state dirs under a cache dir (those holding a checkpoint
// store or a staging area).
std::vector<std::string> list_state_dirs(const std::string& cache_dir);

// The state dirs of the mount at `mountpoint` (its runtime record when it
// has one and no cache_dir/state_dir is given; else those under cache_dir,
// by default /var/cache/bucketfs for root and ~/.cache/bucketfs otherwise).
// Empty, with *error set, when there are none.
std::vector<std::string> locate_state_dirs(const std::string& mountpoint, std::string cache_dir,
                                           const std::string& bucket, const std::string& state_dir,
                                           MountRecord* record, bool* have_record, std::string* error);

// argv after "status". Returns the process exit code: 0 ok / nothing pending
// (--wait), 1 a failed upload (--wait) or an error, 2 usage, 3 --timeout hit.
int status_main(const std::vector<std::string>& args);

// argv after "retry" (retry_command.cpp): uploads that gave up are tried
// again. 0 done (or nothing to retry), 1 an error or a KEY with no failed
// upload, 2 usage.
int retry_main(const std::vector<std::string>& args);

}  // namespace bucketfs::cli
