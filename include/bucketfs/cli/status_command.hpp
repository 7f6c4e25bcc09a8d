// status_command.hpp - `bucketfs status`: what is waiting to be uploaded.
//
// Opens the checkpoint store read-only, so it works while the mount runs and
// after it stopped. Three forms: progress bars on a terminal, plain lines
// otherwise, and --json (stable; documented in the man page).
#pragma once

#include <string>
#include <vector>

#include "bucketfs/checkpoint/record.hpp"

namespace bucketfs::cli {

struct StatusSnapshot {
  std::string state_dir;
  std::vector<checkpoint::UploadRecord> pending;
  std::vector<checkpoint::UploadRecord> failed;  // the failed table
  size_t damaged = 0;                            // records that fail their checksum
};

// Bytes/s per key measured between two refreshes (watch mode); empty otherwise.
using Rates = std::vector<std::pair<std::string, double>>;

std::string render_plain(const StatusSnapshot& s);
std::string render_json(const StatusSnapshot& s);
std::string render_tty(const StatusSnapshot& s, const Rates& rates, int width);

// The per-bucket state dirs under a cache dir (those holding a checkpoint
// store or a staging area).
std::vector<std::string> list_state_dirs(const std::string& cache_dir);

// argv after "status". Returns the process exit code: 0 ok / nothing pending
// (--wait), 1 a failed upload (--wait) or an error, 2 usage, 3 --timeout hit.
int status_main(const std::vector<std::string>& args);

}  // namespace bucketfs::cli
