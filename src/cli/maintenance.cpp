// maintenance.cpp - see maintenance.hpp.
#include "bucketfs/cli/maintenance.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/cli/status_command.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/credentials.hpp"
#include "bucketfs/store/http_object_store.hpp"
#include "bucketfs/upload/recovery.hpp"

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
    std::cout << "will upload " << u.file.mark.key << " (" << u.file.mark.size << " bytes"
              << (u.progress && !u.progress->upload_id.empty() ? ", resuming its parts" : "") << ")\n";
  for (const auto& f : plan.failed) std::cout << "cannot upload " << f.record.key << ": " << f.reason << "\n";
  std::cout << plan.uploads.size() << " staged file(s) in " << state_dir
            << (plan.uploads.empty() ? "" : " upload at the next mount") << "\n";
  if (!plan.remove.empty())
    std::cout << plan.remove.size()
              << " staged file(s) were never closed or are superseded; the next mount removes them\n";
  return 0;
}

}  // namespace

int recover_main(const std::vector<std::string>& args) {
  std::string mountpoint, cache_dir, state_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--cache-dir" || a == "--cache_dir") && i + 1 < args.size())
      cache_dir = args[++i];
    else if (a == "--state-dir" && i + 1 < args.size())
      state_dir = args[++i];
    else if (a == "--checkpoint-dir" && i + 1 < args.size()) {
      // As named in the damaged-store message: the state dir is its parent.
      std::string d = args[++i];
      while (d.size() > 1 && d.back() == '/') d.pop_back();
      state_dir = d.substr(0, d.rfind('/'));
    } else if (a == "-h" || a == "--help") {
      std::cout
          << "usage: bucketfs recover [MOUNTPOINT | --cache-dir DIR | --state-dir DIR | --checkpoint-dir DIR]\n"
             "Moves a damaged checkpoint store aside and tells what the next mount uploads: every\n"
             "staged file closed and not yet confirmed (its closed mark is kept beside it).\n"
             "Run it while the bucket is not mounted.\n";
      return 0;
    } else if (!a.empty() && a[0] != '-' && mountpoint.empty())
      mountpoint = a;
    else {
      std::cerr << "bucketfs recover: unexpected argument '" << a << "'; see bucketfs recover --help\n";
      return 2;
    }
  }
  if (cache_dir.empty()) {
    const char* home = std::getenv("HOME");
    cache_dir = ::geteuid() == 0 ? "/var/cache/bucketfs" : std::string(home ? home : "") + "/.cache/bucketfs";
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

int uploads_main(const std::vector<std::string>& args) {
  bool abort_orphans = false;
  std::vector<std::string> argv = {"bucketfs"};
  std::string spec;
  for (const auto& a : args) {
    if (a == "--abort-orphans")
      abort_orphans = true;
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: bucketfs uploads BUCKET[:/PREFIX] [-o OPTIONS] [--abort-orphans]\n"
                   "Lists the multipart uploads in the bucket (under the prefix); those no local\n"
                   "checkpoint record owns are orphans, which --abort-orphans aborts.\n"
                   "Store options (endpoint, passwd_file, cache_dir, ...) as for mounting.\n";
      return 0;
    } else {
      if (spec.empty() && !a.empty() && a[0] != '-' && argv.size() == 1) spec = a;
      argv.push_back(a);
    }
  }
  if (spec.empty()) {
    std::cerr << "bucketfs uploads: give BUCKET[:/PREFIX]; see bucketfs uploads --help\n";
    return 2;
  }
  // The store options are the mount's; "/" stands in for the mountpoint.
  argv.insert(argv.begin() + 2, "/");
  auto parsed = parse_command_line(argv);
  if (!parsed) {
    std::cerr << "bucketfs uploads: " << parsed.error() << "\n";
    return 2;
  }
  MountConfig cfg = parsed->config;
  const char* home = std::getenv("HOME");
  if (auto r = resolve_defaults(&cfg, home ? home : "", ::geteuid() == 0); !r) {
    std::cerr << "bucketfs uploads: " << r.error() << "\n";
    return 2;
  }
  const store::Dialect dialect =
      cfg.provider.value_or(Provider::S3) == Provider::OSS ? store::Dialect::OSS : store::Dialect::S3;
  auto creds = store::load_credentials(dialect, cfg.bucket, cfg.passwd_file,
                                       [](const char* n) -> const char* { return std::getenv(n); });
  if (!creds) {
    std::cerr << "bucketfs uploads: " << creds.error() << "\n";
    return 1;
  }
  store::HttpObjectStore store(make_store_config(cfg, std::move(*creds)));

  std::set<std::string> owned;
  const MountLayout layout = layout_for(cfg.cache_dir, cfg.endpoint, cfg.bucket, cfg.prefix);
  if (auto cp = checkpoint::CheckpointStore::open(layout.checkpoint_dir, true)) {
    if (auto all = (*cp)->load_all())
      for (const auto& r : all->good)
        if (!r.upload_id.empty()) owned.insert(r.upload_id);
  }

  std::string key_marker, id_marker;
  size_t total = 0, orphans = 0, aborted = 0;
  int rc = 0;
  for (;;) {
    auto page = store.list_uploads(cfg.prefix, key_marker, id_marker);
    if (!page) {
      std::cerr << "bucketfs uploads: cannot list multipart uploads of '" << cfg.bucket
                << "': " << page.error().describe() << "\n";
      return 1;
    }
    for (const auto& u : page->uploads) {
      ++total;
      bool orphan = !owned.count(u.upload_id);
      orphans += orphan;
      char when[32] = "?";
      struct tm tm;
      if (u.initiated && gmtime_r(&u.initiated, &tm)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
      std::cout << (orphan ? "orphan " : "owned  ") << when << "  " << u.key << "  " << u.upload_id;
      if (orphan && abort_orphans) {
        auto r = store.abort_multipart(u.key, u.upload_id);
        if (r) {
          ++aborted;
          std::cout << "  aborted";
        } else {
          std::cout << "  abort failed: " << r.error().describe();
          rc = 1;
        }
      }
      std::cout << "\n";
    }
    if (!page->truncated) break;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
  std::cout << total << " multipart upload(s), " << orphans << " orphan(s)";
  if (abort_orphans) std::cout << ", " << aborted << " aborted";
  std::cout << "\n";
  return rc;
}

}  // namespace bucketfs::cli
