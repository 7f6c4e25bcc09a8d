// mount.cpp - fusefs::serve: session, mount, daemonize, serve, unmount.
//
// Order matters: the mount is made before daemonizing so a mount error
// reaches the terminal; its read-ahead is raised before any file can be
// opened; worker threads start only after the fork (after_daemonize);
// unmount happens on every exit path once mounted.
#include "bucketfs/fuse/mount.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fuse/readahead.hpp"
#include "bucketfs/util/log.hpp"
#include "lowlevel_ops.hpp"

namespace bucketfs::fusefs {
namespace {

// fuse_opt splits -o values at ','; a literal comma is written "\,".
std::string escape_opt(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
struct LoopConfigDeleter {
  void operator()(fuse_loop_config* c) const { fuse_loop_cfg_destroy(c); }
};

}  // namespace

int serve(fs::Filesystem& filesystem, const MountOptions& opts, const std::function<void()>& after_daemonize) {
  std::string mount_opts =
      "fsname=" + escape_opt(opts.fsname.empty() ? "bucketfs" : opts.fsname) + ",subtype=bucketfs";
  if (opts.allow_other) mount_opts += ",allow_other";
  if (opts.default_permissions) mount_opts += ",default_permissions";
  if (opts.read_only) mount_opts += ",ro";

  std::vector<std::string> argv_s = {"bucketfs", "-o", mount_opts};
  if (opts.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv_s.size()), argv.data());

  SessionState state;
  state.fs = &filesystem;
  state.read_only = opts.read_only || filesystem.options().read_only;

  std::unique_ptr<fuse_session, SessionDeleter> se(
      fuse_session_new(&args, &lowlevel_ops(), sizeof(fuse_lowlevel_ops), &state));
  if (!se) {
    std::fprintf(stderr, "bucketfs: cannot start a FUSE session (options: %s)\n", mount_opts.c_str());
    return 1;
  }
  if (fuse_set_signal_handlers(se.get()) != 0) {
    std::fprintf(stderr, "bucketfs: cannot install signal handlers\n");
    return 1;
  }
  const std::string resolved = absolute_path(opts.mountpoint);
  if (fuse_session_mount(se.get(), opts.mountpoint.c_str()) != 0) {
    std::fprintf(stderr,
                 "bucketfs: cannot mount on %s (is it an existing directory, is /dev/fuse usable, and for "
                 "allow_other is user_allow_other set in /etc/fuse.conf?)\n",
                 opts.mountpoint.c_str());
    fuse_remove_signal_handlers(se.get());
    return 1;
  }
  // The mount's device is looked up by its absolute path, resolved before it
  // was mounted: nothing here may touch the new mount, whose requests would
  // wait for a loop that has not started.
  if (int err = resolved.empty() ? ENOENT : set_mount_readahead(resolved, kMaxReadBytes >> 10)) {
    // Not fatal: reads work, in 128 KiB requests instead of 1 MiB ones.
    LOG_INFO("kernel read-ahead of the mount stays at its default (cannot set it to "
             << (kMaxReadBytes >> 10) << " KiB: " << std::strerror(err) << "; needs write access to /sys)");
  }
  if (fuse_daemonize(opts.foreground ? 1 : 0) != 0) {
    std::fprintf(stderr, "bucketfs: cannot daemonize: %s\n", std::strerror(errno));
    fuse_session_unmount(se.get());
    fuse_remove_signal_handlers(se.get());
    return 1;
  }
  int rc = 0;
  try {
    if (after_daemonize) after_daemonize();
    std::unique_ptr<fuse_loop_config, LoopConfigDeleter> cfg(fuse_loop_cfg_create());
    if (!cfg) throw std::bad_alloc();
    fuse_loop_cfg_set_max_threads(cfg.get(), opts.max_threads ? opts.max_threads : 16);
    fuse_loop_cfg_set_clone_fd(cfg.get(), 0);
    LOG_INFO("serving " << opts.fsname << " on " << opts.mountpoint);
    int loop = fuse_session_loop_mt(se.get(), cfg.get());
    // 0: unmounted; > 0: the signal that ended the loop; < 0: -errno.
    if (loop < 0) {
      LOG_ERROR("FUSE loop failed: " << std::strerror(-loop));
      rc = 1;
    } else {
      LOG_INFO("unmounting " << opts.mountpoint << (loop > 0 ? " on a signal" : ""));
    }
  } catch (const std::exception& e) {
    LOG_ERROR("bucketfs: " << e.what());
    rc = 1;
  }
  fuse_session_unmount(se.get());
  fuse_remove_signal_handlers(se.get());
  return rc;
}

}  // namespace bucketfs::fusefs
