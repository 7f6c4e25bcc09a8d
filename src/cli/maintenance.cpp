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
#include "bucketfs/cli/mount_credentials.hpp"
#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/cli/status_command.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/http_object_store.hpp"
#include "bucketfs/upload/uploader.hpp"

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
  std::set<std::string> queued;
  for (const auto& r : loaded->good) queued.insert(r.staging_path);

  auto staging = stage::StagingArea::open(state_dir + "/staging", 0);
  if (!staging) {
    std::cerr << "bucketfs recover: " << staging.error() << "\n";
    return 1;
  }
  // Only closed files carry a sidecar (key and generation); of several
  // closed versions of one key, the newest wins.
  std::map<std::string, stage::StagedEntry> newest;
  size_t requeued = 0, unclosed = 0;
  for (auto& s : (*staging)->scan()) {
    if (queued.count(s.path)) continue;
    if (s.key.empty()) {
      ++unclosed;  // never closed: nothing was promised; the next mount removes it
      continue;
    }
    auto [it, inserted] = newest.emplace(s.key, s);
    if (!inserted && s.generation > it->second.generation) it->second = s;
  }
  for (const auto& [key, s] : newest) {
    auto found = upload::record_for_staged(s, "");
    if (!found) continue;
    checkpoint::UploadRecord& rec = *found;
    for (const auto& f : *failed)
      if (f.key == s.key) rec.meta = f.meta;  // the attributes it was closed with
    if (auto r = cp.put(rec); !r) {
      std::cerr << "bucketfs recover: " << r.error().message << "\n";
      return 1;
    }
    (void)cp.remove_failed(s.key);
    std::cout << "re-queued " << s.key << " (" << rec.size << " bytes)\n";
    ++requeued;
  }
  std::cout << requeued << " staged file(s) re-queued in " << state_dir
            << (requeued ? "; they upload at the next mount" : "") << "\n";
  if (unclosed) std::cout << unclosed << " staged file(s) were never closed and are not uploaded\n";
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
             "Re-queues every staged file that no checkpoint record covers (a damaged store is\n"
             "moved aside first). Run it while the bucket is not mounted.\n";
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
  if (auto p = apply_profile_defaults(&cfg, creds::process_env()); !p) {
    std::cerr << "bucketfs uploads: " << p.error() << "\n";
    return 1;
  }
  const char* home = std::getenv("HOME");
  if (auto r = resolve_defaults(&cfg, home ? home : "", ::geteuid() == 0); !r) {
    std::cerr << "bucketfs uploads: " << r.error() << "\n";
    return 2;
  }
  auto chosen = choose_mount_credentials(cfg, creds::process_env());
  if (!chosen) {
    std::cerr << "bucketfs uploads: " << chosen.error() << "\n";
    return 1;
  }
  store::HttpObjectStore store(make_store_config(cfg, chosen->provider));

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
