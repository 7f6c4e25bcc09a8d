// mount.hpp - the FUSE adapter's entry point, seen from cli/ (no libfuse types here).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace bucketfs::fs {
class Filesystem;
}

namespace bucketfs::fusefs {

struct MountOptions {
  std::string mountpoint;
  std::string fsname;  // shown in /proc/mounts, e.g. "bucketfs#mybucket"
  bool foreground = false;
  bool debug = false;  // libfuse's own request trace
  bool allow_other = false;
  bool default_permissions = false;
  bool read_only = false;
  unsigned max_threads = 16;
};

// Mounts, daemonizes unless foreground (after the mount exists, so mount
// errors reach the terminal), calls after_daemonize (start worker threads
// there: threads do not survive fork), then serves until unmounted or
// SIGINT/SIGTERM/SIGHUP. Returns a process exit code; prints one clear line on failure.
int serve(fs::Filesystem& filesystem, const MountOptions& opts, const std::function<void()>& after_daemonize);

}  // namespace bucketfs::fusefs
