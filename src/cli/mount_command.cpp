// mount_command.cpp - the mount flow: check everything, then mount and serve.
//
// Order matters: every check that can fail (mountpoint, log file, cache
// directory, credentials, endpoint and bucket) runs before the mount exists
// and before daemonizing, so a failure reaches the terminal as one line and
// never leaves a half-made mount behind.
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "bucketfs/cli/app.hpp"
#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/options.hpp"
#include "bucketfs/store/credentials.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::cli {
namespace {

int fail(const std::string& message) {
  std::cerr << "bucketfs: " << message << "\n";
  return kExitFailure;
}

// mkdir -p with mode 0700 for the directories it creates; an existing
// directory is kept as it is.
Result<void, std::string> make_private_dir(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return "cannot create cache_dir '" + path + "': " + std::strerror(errno);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return "cache_dir '" + path + "' is not a directory";
  }
  return {};
}

fs::Options make_fs_options(const MountConfig& cfg) {
  fs::Options o;
  o.prefix = cfg.prefix;
  if (cfg.uid) o.uid = *cfg.uid;
  if (cfg.gid) o.gid = *cfg.gid;
  o.umask = cfg.umask;
  o.stat_ttl = cfg.stat_ttl_s;
  o.dir_ttl = cfg.dir_ttl_s;
  o.read_only = cfg.read_only;
  o.prefetch_min_window = uint64_t{cfg.prefetch_min_kib} << 10;
  o.prefetch_max_window = std::max(o.prefetch_min_window, uint64_t{cfg.prefetch_max_kib} << 10);
  o.prefetch_memory_budget = uint64_t{cfg.read_memory_mib} << 20;
  return o;
}

}  // namespace

int run_mount(const MountConfig& given) {
  MountConfig cfg = given;
  log::Level level = log::Level::Info;
  if (!log::parse_level(cfg.log_level, &level)) return fail("bad loglevel '" + cfg.log_level + "'");
  log::set_level(level);

  // The daemon runs with cwd "/", so the mountpoint must be absolute.
  if (auto m = check_mountpoint(cfg.mountpoint); !m) return fail(m.error());
  char real[PATH_MAX];
  if (::realpath(cfg.mountpoint.c_str(), real) == nullptr) {
    return fail("cannot resolve mountpoint '" + cfg.mountpoint + "': " + std::strerror(errno));
  }
  cfg.mountpoint = real;

  if (!cfg.log_file.empty() && !log::set_file(cfg.log_file)) {
    return fail("cannot open log file '" + cfg.log_file + "': " + std::strerror(errno));
  }
  if (auto d = make_private_dir(cfg.cache_dir); !d) return fail(d.error());

  const store::Dialect dialect =
      cfg.provider.value_or(Provider::S3) == Provider::OSS ? store::Dialect::OSS : store::Dialect::S3;
  auto creds = store::load_credentials(dialect, cfg.bucket, cfg.passwd_file,
                                       [](const char* name) -> const char* { return std::getenv(name); });
  if (!creds) return fail(creds.error());

  store::HttpStoreConfig store_cfg = make_store_config(cfg, std::move(*creds));
  {
    // A probe with a short retry budget: a mount that cannot work must fail
    // within seconds, not after the long budget meant for data transfers.
    store::HttpStoreConfig probe_cfg = store_cfg;
    probe_cfg.max_attempts = std::min(probe_cfg.max_attempts, 3);
    probe_cfg.total_budget_ms = std::min(probe_cfg.total_budget_ms, 20000L);
    probe_cfg.backoff_cap_ms = std::min(probe_cfg.backoff_cap_ms, 2000L);
    store::HttpObjectStore probe(std::move(probe_cfg));
    auto checked = probe.check_bucket();
    if (!checked) return fail(describe_check_failure(cfg, checked.error()));
  }
  LOG_DEBUG("bucket '" << cfg.bucket << "' answers at " << cfg.endpoint);

  store::HttpObjectStore store(std::move(store_cfg));
  fs::Filesystem filesystem(store, make_fs_options(cfg));
  const fusefs::MountOptions mount_opts = make_mount_options(cfg);
  const bool to_syslog = !cfg.foreground && cfg.log_file.empty();
  return fusefs::serve(filesystem, mount_opts, [&] {
    if (to_syslog) log::set_syslog("bucketfs");
    LOG_INFO("mounted bucket '" << cfg.bucket << "'" << (cfg.prefix.empty() ? "" : " prefix '" + cfg.prefix + "'")
                                << " from " << cfg.endpoint << " at " << cfg.mountpoint);
  });
}

}  // namespace bucketfs::cli
