// maintenance.cpp - see maintenance.hpp.
#include "bucketfs/cli/maintenance.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/mount_credentials.hpp"
#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/cli/status_command.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/http_object_store.hpp"
#include "bucketfs/upload/recovery.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::cli {
namespace {

int recover_state_dir(const std::string& state_dir) {
  const std::string cp_dir = state_dir + "/checkpoint";
  auto opened = checkpoint::CheckpointStore::open(cp_dir, false);
  if (!opened && opened.error().kind == checkpoint::StoreError::Damaged) {
    // Keep the damaged store for inspection; start a fresh one.
    auto moved = checkpoint::CheckpointStore::quarantine(cp_dir);
    if (!moved) {
      std::cerr << "bucketfs recover: " << moved.error().message << "\n";
      return 1;
    }
    std::cout << "the damaged checkpoint store was moved to " << *moved << "\n";
    opened = checkpoint::CheckpointStore::open(cp_dir, false);
  }
  if (!opened) {
    std::cerr << "bucketfs recover: " << opened.error().message << "\n";
    return 1;
  }
  auto& cp = *opened.value();
  auto loaded = cp.load_all();
  auto failed = cp.load_failed();
  if (!loaded || !failed) {
    std::cerr << "bucketfs recover: cannot read the checkpoint store in " << cp_dir << "\n";
    return 1;
  }
  auto staging = stage::StagingArea::open(state_dir + "/staging", 0);
  if (!staging) {
    std::cerr << "bucketfs recover: " << staging.error() << "\n";
    return 1;
  }
  // The staged files' closed marks are the truth: the next mount applies
  // exactly this plan (upload/recovery.hpp), so say what it will do.
  auto plan = upload::plan_recovery((*staging)->scan(), loaded->good, *failed, "", "");
  for (const auto& u : plan.uploads)
    std::cout << "will upload " << log::printable(u.file.mark.key) << " (" << u.file.mark.size << " bytes"
              << (u.progress && !u.progress->upload_id.empty() ? ", resuming its parts" : "") << ")\n";
  for (const auto& f : plan.failed)
    std::cout << "cannot upload " << log::printable(f.record.key) << ": " << log::printable(f.reason) << "\n";
  std::cout << plan.uploads.size() << " staged file(s) in " << state_dir
            << (plan.uploads.empty() ? "" : " upload at the next mount") << "\n";
  if (!plan.remove.empty())
    std::cout << plan.remove.size()
              << " staged file(s) were never closed or are superseded; the next mount removes them\n";
  return 0;
}

const char* kRecoverUsage =
    "usage: bucketfs recover [MOUNTPOINT | --cache-dir DIR | --state-dir DIR | --checkpoint-dir DIR]\n"
    "Moves a damaged checkpoint store aside and tells what the next mount uploads: every\n"
    "staged file closed and not yet confirmed (its closed mark is kept beside it).\n"
    "Run it while the bucket is not mounted.\n";

}  // namespace

int recover_main(const std::vector<std::string>& args) {
  Command line;
  if (int rc = parse_subcommand_args(CommandKind::Recover, args, kRecoverUsage, &line); rc >= 0) return rc;
  if (line.operands.size() > 1) {
    std::cerr << "bucketfs recover: unexpected argument '" << line.operands[1]
              << "'; see bucketfs recover --help\n";
    return 2;
  }
  const std::string mountpoint = line.operands.empty() ? "" : line.operands[0];
  const std::string state_dir = line.config.sub.state_dir;
  std::string cache_dir = line.config.cache_dir;
  if (cache_dir.empty() && state_dir.empty()) {
    auto d = process_cache_dir();
    if (!d) {
      std::cerr << "bucketfs recover: " << kNoCacheDir << "\n";
      return 1;
    }
    cache_dir = *d;
  }
  std::vector<std::string> dirs;
  if (!state_dir.empty())
    dirs.push_back(state_dir);
  else if (!mountpoint.empty()) {
    std::string d = lookup_mount(cache_dir, mountpoint);
    if (!d.empty()) dirs.push_back(d);
  } else {
    dirs = list_state_dirs(cache_dir);
  }
  if (dirs.empty()) {
    std::cerr << "bucketfs recover: no bucketfs state found under " << cache_dir << " (give --cache-dir DIR)\n";
    return 1;
  }
  int rc = 0;
  for (const auto& d : dirs) rc |= recover_state_dir(d);
  return rc;
}

Result<long, std::string> parse_duration(const std::string& text) {
  size_t i = 0;
  long long n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < (1LL << 40)) n = n * 10 + (text[i++] - '0');
  const std::string unit = text.substr(i);
  long long scale = unit.empty() || unit == "s" ? 1
                    : unit == "m"               ? 60
                    : unit == "h"               ? 3600
                    : unit == "d"               ? 86400
                                                : 0;
  if (i == 0 || scale == 0 || n >= (1LL << 40))
    return "bad duration '" + text + "': expected a whole number with s, m, h or d (e.g. 90m, 7d)";
  return static_cast<long>(n * scale);
}

namespace {

// Whether a mount holds the writer lock of the checkpoint store in cp_dir.
bool store_in_use(const std::string& cp_dir) {
  Fd fd(::open((cp_dir + "/lock").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;
  return errno == EWOULDBLOCK;
}

}  // namespace

Result<LocalUploads, std::string> load_local_uploads(const std::string& cache_dir) {
  LocalUploads out;
  struct stat st {};
  if (::stat(cache_dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return out;  // nothing was ever mounted with this cache dir
    return "cannot read the cache dir " + cache_dir + ": " + std::strerror(errno);
  }
  if (::access(cache_dir.c_str(), R_OK | X_OK) != 0)
    return "cannot read the cache dir " + cache_dir + ": " + std::strerror(errno);
  for (const std::string& dir : list_state_dirs(cache_dir)) {
    ++out.stores;
    const std::string cp_dir = dir + "/checkpoint";
    auto cp = checkpoint::CheckpointStore::open(cp_dir, true);
    if (!cp) return "cannot read the checkpoint store in " + cp_dir + ": " + cp.error().message;
    auto all = (*cp)->load_all();
    auto failed = (*cp)->load_failed();
    if (!all || !failed) return "cannot read the checkpoint store in " + cp_dir;
    // A record of generation 0 is a file's upload begun while it was written
    // (upload_while_writing): with no mount running, it was never closed and
    // nothing resumes it (the next mount would abort it).
    const bool running = store_in_use(cp_dir);
    for (const auto& r : all->good)
      if (!r.upload_id.empty()) (r.generation == 0 && !running ? out.failed : out.pending).insert(r.upload_id);
    for (const auto& r : *failed) {
      if (r.upload_id.empty()) continue;
      // An upload that gave up keeps its staged file: `bucketfs retry` or the
      // next mount resumes it, so it is pending, not an orphan.
      struct stat sf {};
      const bool kept =
          !r.staging_path.empty() && ::lstat(r.staging_path.c_str(), &sf) == 0 && S_ISREG(sf.st_mode);
      (kept ? out.pending : out.failed).insert(r.upload_id);
    }
  }
  return out;
}

UploadOwner classify_upload(const LocalUploads& local, const std::string& upload_id) {
  if (local.pending.count(upload_id)) return UploadOwner::Pending;
  if (local.failed.count(upload_id)) return UploadOwner::Orphan;
  return UploadOwner::Unknown;
}

bool may_abort(UploadOwner owner, std::time_t initiated, std::optional<long> older_than, std::time_t now) {
  switch (owner) {
    case UploadOwner::Pending: return false;  // a mount resumes it
    case UploadOwner::Orphan: return true;    // ours, and nothing will resume it
    case UploadOwner::Unknown: break;
  }
  // Someone else's, or ours with its record lost: only when told how old is
  // old enough, and only if the server said when it started.
  return older_than && initiated > 0 && now - initiated >= *older_than;
}

namespace {

const char* owner_word(UploadOwner o) {
  switch (o) {
    case UploadOwner::Pending: return "pending";
    case UploadOwner::Orphan: return "orphan ";
    case UploadOwner::Unknown: return "unknown";
  }
  return "?";
}

const char* kUploadsHelp =
    "usage: bucketfs uploads BUCKET[:/PREFIX] [-o OPTIONS] [--abort-orphans [--older-than DURATION]]\n"
    "Lists the multipart uploads in the bucket (under the prefix) and whose they are, as far as\n"
    "the checkpoint stores under the cache dir tell (the server lists no owner of its own):\n"
    "  pending  a pending upload of a mount of this cache dir: never aborted (it resumes)\n"
    "  orphan   started by bucketfs here, its file dropped (failed table) or never closed (its\n"
    "           writer or mount killed while it was written): nothing resumes it\n"
    "  unknown  not recorded here: another host's or cache dir's mount, another tool (aws cli,\n"
    "           a backup job), or one of ours whose cache dir was lost\n"
    "--abort-orphans aborts the orphans; unknown uploads only with --older-than DURATION\n"
    "(e.g. 90m, 12h, 7d; 0 for all) and only those started longer ago than that.\n"
    "Store options (endpoint, passwd_file, cache_dir, ...) as for mounting.\n";

}  // namespace

struct UploadsTally {
  size_t total = 0, aborted = 0, left_unknown = 0;
  size_t count[3] = {0, 0, 0};  // by UploadOwner
  int rc = 0;
  bool listing_failed = false;
};

// Lists every multipart upload under the prefix, one line each with its
// owner, and aborts those --abort-orphans may. t->rc is 1 when an abort
// failed; t->listing_failed when a page could not be listed (said on stderr).
void list_and_abort(store::ObjectStore& store, const MountConfig& cfg, const LocalUploads& local,
                    bool abort_orphans, std::optional<long> older_than, UploadsTally* t) {
  const std::time_t now = std::time(nullptr);
  std::string key_marker, id_marker;
  for (;;) {
    auto page = store.list_uploads(cfg.prefix, key_marker, id_marker);
    if (!page) {
      std::cerr << "bucketfs uploads: cannot list multipart uploads of '" << cfg.bucket
                << "': " << log::printable(page.error().describe()) << "\n";
      t->listing_failed = true;
      return;
    }
    for (const auto& u : page->uploads) {
      ++t->total;
      const UploadOwner owner = classify_upload(local, u.upload_id);
      ++t->count[static_cast<int>(owner)];
      char when[32] = "?";
      struct tm tm;
      if (u.initiated && gmtime_r(&u.initiated, &tm)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
      std::cout << owner_word(owner) << "  " << when << "  " << log::printable(u.key) << "  "
                << log::printable(u.upload_id);
      if (abort_orphans && may_abort(owner, u.initiated, older_than, now)) {
        auto r = store.abort_multipart(u.key, u.upload_id);
        if (r) {
          ++t->aborted;
          std::cout << "  aborted";
        } else {
          std::cout << "  abort failed: " << log::printable(r.error().describe());
          t->rc = 1;
        }
      } else if (abort_orphans && owner == UploadOwner::Unknown) {
        ++t->left_unknown;
      }
      std::cout << "\n";
    }
    if (!page->truncated) break;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
}

namespace {

// The closing lines of `uploads`: counts, and what was left alone and why.
void print_uploads_summary(const UploadsTally& t, const MountConfig& cfg, const LocalUploads& local,
                           bool abort_orphans, const std::optional<long>& older_than) {
  std::cout << t.total << " multipart upload(s): " << t.count[0] << " pending, " << t.count[1] << " orphan(s), "
            << t.count[2] << " unknown";
  if (abort_orphans) std::cout << "; " << t.aborted << " aborted";
  std::cout << "\n";
  if (local.stores == 0 && t.total > 0)
    std::cout << "no bucketfs state under " << cfg.cache_dir
              << ": is that the cache dir the mounts use (cache_dir=)? nothing here is known to be ours\n";
  if (t.left_unknown > 0) {
    std::cout << t.left_unknown
              << " unknown upload(s) left alone: they may be in use by another mount, host or tool; "
              << (older_than ? "they started less than --older-than ago"
                             : "add --older-than DURATION (e.g. 7d) to abort those started longer ago")
              << "\n";
  }
}

// The uploads command line into a resolved config and its --older-than; an
// exit code (2: usage, 1: failure) when it cannot be, or -1 to go on.
int parse_uploads(const std::vector<std::string>& args, MountConfig* cfg, std::optional<long>* older_than) {
  Command line;
  if (int rc = parse_subcommand_args(CommandKind::Uploads, args, kUploadsHelp, &line); rc >= 0) return rc;
  if (line.operands.empty()) {
    std::cerr << "bucketfs uploads: give BUCKET[:/PREFIX]; see bucketfs uploads --help\n";
    return 2;
  }
  if (line.operands.size() > 1) {
    std::cerr << "bucketfs uploads: unexpected argument '" << line.operands[1]
              << "'; see bucketfs uploads --help\n";
    return 2;
  }
  *cfg = line.config;
  if (!cfg->sub.older_than.empty()) {
    auto d = parse_duration(cfg->sub.older_than);
    if (!d) {
      std::cerr << "bucketfs uploads: --older-than: " << d.error() << "\n";
      return 2;
    }
    *older_than = *d;
  }
  if (*older_than && !cfg->sub.abort_orphans) {
    std::cerr << "bucketfs uploads: --older-than only applies to --abort-orphans\n";
    return 2;
  }
  if (auto b = parse_bucket_spec(line.operands[0], cfg); !b) {
    std::cerr << "bucketfs uploads: " << b.error() << "\n";
    return 2;
  }
  cfg->mountpoint.assign(1, '/');  // the store options are the mount's; no mountpoint is involved
  if (auto p = apply_profile_defaults(cfg, creds::process_env()); !p) {
    std::cerr << "bucketfs uploads: " << p.error() << "\n";
    return 1;
  }
  if (auto r = resolve_defaults(cfg, process_home(), ::geteuid() == 0); !r) {
    std::cerr << "bucketfs uploads: " << r.error() << "\n";
    return 2;
  }
  return -1;
}

}  // namespace

int uploads_main(const std::vector<std::string>& args) {
  MountConfig cfg;
  std::optional<long> older_than;
  if (int rc = parse_uploads(args, &cfg, &older_than); rc >= 0) return rc;
  // Every store under the cache dir, whatever endpoint spelling or prefix it
  // was mounted with. One that cannot be read could own any upload: refuse.
  auto local = load_local_uploads(cfg.cache_dir);
  if (!local) {
    std::cerr << "bucketfs uploads: " << local.error()
              << "; nothing was listed or aborted (fix it, or give the right cache_dir=)\n";
    return 1;
  }
  auto chosen = choose_mount_credentials(cfg, creds::process_env());
  if (!chosen) {
    std::cerr << "bucketfs uploads: " << chosen.error() << "\n";
    return 1;
  }
  store::HttpObjectStore store(make_store_config(cfg, chosen->provider));

  UploadsTally t;
  list_and_abort(store, cfg, *local, cfg.sub.abort_orphans, older_than, &t);
  if (t.listing_failed) return 1;
  print_uploads_summary(t, cfg, *local, cfg.sub.abort_orphans, older_than);
  return t.rc;
}

}  // namespace bucketfs::cli
