// retry_command.cpp - `bucketfs retry MOUNTPOINT [KEY...]`: uploads that gave
// up (their error budget spent, see store::default_budget) are tried again.
//
// A running mount holds its checkpoint store's writer lock, so it is asked:
// a request file in its state dir (retry.request, one key per line or "*"),
// which its uploader reads within a few seconds and removes. A mount that is
// not running has its failed records moved back to the uploads table here;
// the next mount resumes them with their progress (a mount also retries
// every upload that gave up on its own).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/options.hpp"
#include "bucketfs/cli/runtime_registry.hpp"
#include "bucketfs/cli/status_command.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::cli {
namespace {

// Writes `text` to dir/retry.request through a private temporary file and a
// rename, so the mount never reads half a request. "" or an error message.
std::string write_request(const std::string& dir, const std::string& text) {
  const std::string tmp = dir + "/retry.request.tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return "cannot write " + tmp + ": " + std::strerror(errno);
  if (pwrite_full(fd.get(), text.data(), text.size(), 0) != 0 || ::fsync(fd.get()) != 0) {
    std::string e = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + e;
  }
  if (::rename(tmp.c_str(), (dir + "/retry.request").c_str()) != 0) {
    std::string e = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot write " + dir + "/retry.request: " + e;
  }
  return "";
}

// The keys of dir's failed records that have a staged file to send again
// (all, or those in `keys`). "" or an error message.
std::string failed_keys(const std::string& dir, const std::set<std::string>& keys, std::vector<std::string>* out) {
  auto cp = checkpoint::CheckpointStore::open(dir + "/checkpoint", true);
  if (!cp) return cp.error().message;
  auto failed = (*cp)->load_failed();
  if (!failed) return failed.error().message;
  for (const auto& r : *failed)
    if (!r.staging_path.empty() && (keys.empty() || keys.count(r.key))) out->push_back(r.key);
  return "";
}

// A mount that is not running: its failed records go back to the uploads
// table (the next mount resumes them). "" or an error message.
std::string unfail_offline(const std::string& dir, const std::vector<std::string>& keys, size_t* moved_count) {
  auto cp = checkpoint::CheckpointStore::open(dir + "/checkpoint", false);
  if (!cp) return cp.error().message;
  for (const auto& k : keys) {
    auto moved = (*cp)->unfail(k);
    if (!moved) return moved.error().message;
    if (*moved) ++*moved_count;
  }
  return "";
}

const char* kRetryUsage =
    "usage: bucketfs retry MOUNTPOINT [KEY...] [--cache-dir DIR [--bucket B]]\n"
    "Tries again the uploads that gave up (bucketfs status lists them as failed, with why):\n"
    "every one, or those of the KEYs given (as status prints them). A running mount takes\n"
    "them up within seconds; otherwise the next mount does.\n";

}  // namespace

int retry_main(const std::vector<std::string>& args) {
  Command line;
  if (int rc = parse_subcommand_args(CommandKind::Retry, args, kRetryUsage, &line); rc >= 0) return rc;
  const std::string cache_dir = line.config.cache_dir, bucket = line.config.bucket;
  const std::string mountpoint = line.operands.empty() ? "" : line.operands[0];
  std::set<std::string> keys;
  if (line.operands.size() > 1) keys.insert(line.operands.begin() + 1, line.operands.end());
  if (mountpoint.empty()) {
    std::cerr << "bucketfs retry: which mount? usage: bucketfs retry MOUNTPOINT [KEY...]\n";
    return 2;
  }
  MountRecord record;
  bool have_record = false;
  std::string error;
  const auto dirs = locate_state_dirs(mountpoint, cache_dir, bucket, "", &record, &have_record, &error);
  if (dirs.empty()) {
    std::cerr << "bucketfs retry: " << error << "\n";
    return 1;
  }
  const bool running = have_record && mount_is_live(record);
  size_t asked = 0;
  std::set<std::string> found;
  for (const auto& dir : dirs) {
    std::vector<std::string> mine;
    if (std::string e = failed_keys(dir, keys, &mine); !e.empty()) {
      std::cerr << "bucketfs retry: " << e << "\n";
      return 1;
    }
    if (mine.empty()) continue;
    found.insert(mine.begin(), mine.end());
    if (running) {
      std::string text;
      for (const auto& k : mine) text += k + "\n";
      if (std::string e = write_request(dir, text); !e.empty()) {
        std::cerr << "bucketfs retry: " << e << "\n";
        return 1;
      }
      asked += mine.size();
      continue;
    }
    if (std::string e = unfail_offline(dir, mine, &asked); !e.empty()) {
      std::cerr << "bucketfs retry: " << e << "\n";
      return 1;
    }
  }
  for (const auto& k : keys)
    if (!found.count(k)) std::cerr << "bucketfs retry: " << log::printable(k) << " has no failed upload\n";
  if (asked == 0) {
    std::cout << "nothing to retry\n";
    return keys.empty() ? 0 : 1;
  }
  if (running)
    std::cout << "asked the mount (pid " << record.pid << ") to retry " << asked
              << " upload(s); follow them with: bucketfs status " << mountpoint << " --wait\n";
  else
    std::cout << asked << " upload(s) will be retried when " << mountpoint << " is mounted again\n";
  return found.size() < keys.size() ? 1 : 0;
}

}  // namespace bucketfs::cli
