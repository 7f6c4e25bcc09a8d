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

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/mount_credentials.hpp"
#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/cli/mount_metrics.hpp"
#include "bucketfs/cli/runtime_registry.hpp"
#include "bucketfs/cli/sd_notify.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/key_mapper.hpp"
#include "bucketfs/fs/options.hpp"
#include "bucketfs/metrics/server.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/upload/uploader.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::cli {
namespace {

int fail(const std::string& message) {
  std::cerr << "bucketfs: " << log::printable(message) << "\n";
  return kExitFailure;
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
  o.readdir_meta = cfg.readdir_meta == "on"    ? fs::Options::ReaddirMeta::On
                   : cfg.readdir_meta == "off" ? fs::Options::ReaddirMeta::Off
                                               : fs::Options::ReaddirMeta::Auto;
  o.prefetch_min_window = uint64_t{cfg.prefetch_min_kib} << 10;
  o.prefetch_max_window = std::max(o.prefetch_min_window, uint64_t{cfg.prefetch_max_kib} << 10);
  o.prefetch_memory_budget = uint64_t{cfg.read_memory_mib} << 20;
  return o;
}

// What `status` reads about this mount (see runtime_registry.hpp).
MountRecord mount_record(const MountConfig& cfg, const std::string& state_dir, const std::string& metrics,
                         const creds::ProviderState& st) {
  MountRecord r;
  r.mountpoint = canonical_mountpoint(cfg.mountpoint);
  r.state_dir = state_dir;
  r.bucket = cfg.bucket;
  r.endpoint = cfg.endpoint;
  r.pid = ::getpid();
  r.metrics = metrics;
  r.credentials_source = st.source;
  r.credentials_usable = st.usable;
  r.credentials_expiration = st.expiration ? static_cast<long long>(*st.expiration) : 0;
  r.credentials_error = st.last_error;
  r.credentials_failing_since = static_cast<long long>(st.failing_since);
  return r;
}

}  // namespace

// The local checks before anything is asked of the store: log level and
// file, the mountpoint (made absolute: the daemon runs with cwd "/"), the
// cache dir (from here on named by its checked, symlink-free path). "" or
// the one line to print.
std::string prepare_local(MountConfig* cfg) {
  log::Level level = log::Level::Info;
  if (!log::parse_level(cfg->log_level, &level)) return "bad loglevel '" + cfg->log_level + "'";
  log::set_level(level);
  if (auto m = check_mountpoint(cfg->mountpoint); !m) return m.error();
  char real[PATH_MAX];
  if (::realpath(cfg->mountpoint.c_str(), real) == nullptr)
    return "cannot resolve mountpoint '" + cfg->mountpoint + "': " + std::strerror(errno);
  cfg->mountpoint = real;
  if (!cfg->log_file.empty()) {
    if (std::string why = log::set_file(cfg->log_file); !why.empty()) return why;
  }
  std::string cache_dir;
  if (auto d = make_private_dirs(cfg->cache_dir, &cache_dir); !d) return d.error();
  cfg->cache_dir = cache_dir;
  return "";
}

// A probe with a short retry budget: a mount that cannot work must fail
// within seconds, not after the long budget meant for data transfers.
std::string probe_bucket(const MountConfig& cfg, store::HttpStoreConfig probe_cfg, const std::string& creds) {
  probe_cfg.max_attempts = std::min(probe_cfg.max_attempts, 3);
  probe_cfg.total_budget_ms = std::min(probe_cfg.total_budget_ms, 20000L);
  probe_cfg.backoff_cap_ms = std::min(probe_cfg.backoff_cap_ms, 2000L);
  store::HttpObjectStore probe(std::move(probe_cfg));
  auto checked = probe.check_bucket(cfg.prefix);
  if (!checked) return describe_check_failure(cfg, checked.error()) + " (credentials: " + creds + ")";
  return "";
}

// In the daemon: the checkpoint store and the uploader, resumed before the
// first request is served (pending files are visible from the start).
// Throws std::runtime_error on a store that cannot be opened or read.
void start_uploads(const MountConfig& cfg, const MountLayout& layout, store::ObjectStore& store,
                   stage::StagingArea& staging, fs::Filesystem& filesystem,
                   std::unique_ptr<checkpoint::CheckpointStore>* cp, std::unique_ptr<upload::Uploader>* uploader) {
  auto opened = checkpoint::CheckpointStore::open(layout.checkpoint_dir, false);
  if (!opened) throw std::runtime_error(opened.error().message);
  *cp = std::move(opened.value());
  upload::UploaderConfig ucfg;
  ucfg.bucket = cfg.bucket;
  ucfg.prefix = fs::KeyMapper(cfg.prefix).prefix();
  ucfg.part_size = uint64_t{cfg.part_size_mib} << 20;
  ucfg.concurrency = cfg.upload_concurrency;
  ucfg.stream_uploads = cfg.upload_while_writing;
  ucfg.stream_concurrency = cfg.upload_while_writing_concurrency;
  ucfg.retry_request_file = layout.state_dir + "/retry.request";
  *uploader = std::make_unique<upload::Uploader>(store, **cp, staging, ucfg);
  auto resumed = (*uploader)->resume();
  if (!resumed) throw std::runtime_error(resumed.error().message);
  if (resumed->resumed + resumed->failed + resumed->damaged > 0)
    LOG_INFO("resuming " << resumed->resumed << " pending upload(s) (" << resumed->with_progress
                         << " with parts already sent); " << resumed->failed << " moved to the failed table; "
                         << resumed->damaged << " damaged record(s)");
  filesystem.attach_write_backend({&staging, uploader->get(), cfg.sync_upload});
  (*uploader)->start();
}

// Unmounted: stop starting parts, let those in flight finish for a while.
// What finished is recorded; the rest resumes at the next mount. Exits the
// process at once when requests are still stuck in the network.
void finish_uploads(const MountConfig& cfg, upload::Uploader& uploader, int rc) {
  sd_notify_stopping("unmounted; finishing upload requests in flight");
  bool drained = uploader.stop(std::chrono::seconds(cfg.unmount_grace_s));
  auto left = uploader.pending().size();
  if (left > 0) LOG_INFO(left << " upload(s) still pending; they resume at the next mount");
  if (!drained) {
    LOG_WARN("requests still in flight after " << cfg.unmount_grace_s << " s; exiting (they will be re-sent)");
    std::_Exit(rc);  // worker threads are stuck in the network; records are consistent
  }
}

// The SSE-C key file's key into the store's config; an error line or "".
std::string load_customer_key(const MountConfig& cfg, store::HttpStoreConfig* store_cfg) {
  if (cfg.sse_c_key_file.empty()) return "";
  auto key = store::load_customer_key(cfg.sse_c_key_file);
  if (!key) return key.error();
  store_cfg->encryption.mode = store::Encryption::Mode::CustomerKey;
  store_cfg->encryption.customer_key = std::move(*key);
  return "";
}

// The state of this bucket (and prefix) under the cache dir: its checkpoint
// store and staging area. Opened here once so that a locked or damaged store
// is reported on the terminal; the daemon opens it again after the fork (an
// LMDB environment must not cross a fork). An error line or "".
std::string open_state(const MountConfig& cfg, const MountLayout& layout,
                       std::unique_ptr<stage::StagingArea>* staging) {
  for (const std::string* dir : {&layout.state_dir, &layout.checkpoint_dir, &layout.staging_dir})
    if (auto d = make_private_dirs(*dir); !d) return d.error();
  if (!cfg.read_only) {
    auto probe = checkpoint::CheckpointStore::open(layout.checkpoint_dir, false);
    if (!probe) return probe.error().message;
  }
  auto opened = stage::StagingArea::open(layout.staging_dir, uint64_t{cfg.ensure_diskfree_mib} << 20);
  if (!opened) return opened.error();
  *staging = std::move(opened.value());
  if (auto r = register_mount(cfg.cache_dir, cfg.mountpoint, layout.state_dir); !r) return r.error();
  return "";
}

// In the daemon: the registry record tells `status` where this mount's state
// is and how its credentials are; rewritten whenever they change.
void keep_mount_record(const MountConfig& cfg, const MountLayout& layout, const std::string& metrics_address,
                       creds::CredentialProvider& credentials) {
  auto registered = write_mount_record(mount_record(cfg, layout.state_dir, metrics_address, credentials.state()));
  if (!registered) LOG_WARN("bucketfs status will need --cache-dir for this mount: " << registered.error());
  credentials.add_listener([&cfg, &layout, metrics_address](const creds::ProviderState& st) {
    auto r = write_mount_record(mount_record(cfg, layout.state_dir, metrics_address, st));
    if (!r) LOG_WARN("cannot update the mount's record for bucketfs status: " << r.error());
  });
}

int run_mount(const MountConfig& given) {
  MountConfig cfg = given;
  if (std::string why = prepare_local(&cfg); !why.empty()) return fail(why);

  auto chosen = choose_mount_credentials(cfg, creds::process_env());
  if (!chosen) return fail(chosen.error());
  const std::shared_ptr<creds::CredentialProvider> credentials = chosen->provider;

  // The metrics port is bound here so that a port in use fails the mount on
  // the terminal; the server thread starts after the fork.
  metrics::Registry registry;
  std::unique_ptr<metrics::Server> metrics_server;
  if (!cfg.metrics.empty()) {
    auto bound = metrics::Server::bind(cfg.metrics);
    if (!bound) return fail(bound.error());
    metrics_server = std::move(bound.value());
  }

  store::HttpStoreConfig store_cfg = make_store_config(cfg, credentials);
  if (metrics_server) store_cfg.metrics = &registry;
  if (std::string why = load_customer_key(cfg, &store_cfg); !why.empty()) return fail(why);
  if (std::string why = probe_bucket(cfg, store_cfg, chosen->description); !why.empty()) return fail(why);
  LOG_DEBUG("bucket '" << cfg.bucket << "' answers at " << cfg.endpoint);

  const MountLayout layout = layout_for(cfg.cache_dir, cfg.endpoint, cfg.bucket, cfg.prefix);
  std::unique_ptr<stage::StagingArea> staging;
  if (std::string why = open_state(cfg, layout, &staging); !why.empty()) return fail(why);

  store::HttpObjectStore store(std::move(store_cfg));
  fs::Filesystem filesystem(store, make_fs_options(cfg));
  const fusefs::MountOptions mount_opts = make_mount_options(cfg);
  const bool to_syslog = !cfg.foreground && cfg.log_file.empty();

  // Once the checks passed (a failed mount stays one line): on stderr, and in
  // the log once it is the daemon's (the same stream in the foreground
  // without log_file, so only once there).
  const std::vector<std::string> warnings = security_warnings(cfg);
  if (!cfg.foreground || !cfg.log_file.empty())
    for (const auto& w : warnings) std::cerr << "bucketfs: warning: " << w << "\n";

  std::unique_ptr<checkpoint::CheckpointStore> cp;
  std::unique_ptr<upload::Uploader> uploader;
  const std::string metrics_address = metrics_server ? metrics_server->address() : "";
  int rc = fusefs::serve(filesystem, mount_opts, [&] {
    if (to_syslog) log::set_syslog("bucketfs");
    for (const auto& w : warnings) LOG_WARN(w);
    // Logged once mounted: a mount that fails says one line on the terminal.
    LOG_INFO("credentials: " << chosen->description);
    keep_mount_record(cfg, layout, metrics_address, *credentials);
    credentials->start();
    if (!cfg.read_only) start_uploads(cfg, layout, store, *staging, filesystem, &cp, &uploader);
    if (metrics_server) {
      add_mount_collectors(registry, {&uploader, &cp, layout.staging_dir, credentials});
      metrics_server->start([&registry] { return registry.render(); });
      LOG_INFO("metrics at http://" << metrics_address << "/metrics");
    }
    LOG_INFO("mounted bucket '" << cfg.bucket << "'" << (cfg.prefix.empty() ? "" : " prefix '" + cfg.prefix + "'")
                                << " from " << cfg.endpoint << " at " << cfg.mountpoint);
    sd_notify_ready("mounted " + cfg.bucket + " at " + cfg.mountpoint);
  });
  if (uploader) finish_uploads(cfg, *uploader, rc);
  credentials->stop();
  if (metrics_server) metrics_server->stop();  // before the uploader it reads goes away
  return rc;
}

}  // namespace bucketfs::cli
