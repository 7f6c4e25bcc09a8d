// readahead.hpp - the kernel's read-ahead for a FUSE mount (no libfuse types).
//
// The kernel takes the smaller of the FUSE INIT reply's max_readahead and
// its default for a new FUSE mount's backing device, 128 KiB, so a daemon
// asking for 1 MiB still gets 128 KiB reads: eight requests through
// /dev/fuse per MiB, each a wake-up of the daemon and of the reader. Only the
// device's sysfs file raises it (root, or whoever may write to /sys).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bucketfs::fusefs {

// The "MAJOR:MINOR" of the topmost mount of type fuse.bucketfs on
// mountpoint (absolute, as the kernel shows it) in a /proc/self/mountinfo
// text; nullopt if there is none. Pure.
std::optional<std::string> fuse_mount_device(std::string_view mountinfo, std::string_view mountpoint);

// The canonical absolute form of path (realpath(3)), or "" if it cannot be
// resolved. Call it before mounting on path: afterwards resolving it would
// look at the mount itself.
std::string absolute_path(const std::string& path);

// Sets /sys/class/bdi/MAJOR:MINOR/read_ahead_kb of the bucketfs mount on
// mountpoint (absolute_path() of it, taken before mounting) to kib. Reads
// only /proc/self/mountinfo, never the mount, so it may run before the
// session loop answers requests. Returns 0, or an errno: ENOENT when the
// mount is not found, EACCES/EPERM/EROFS when /sys may not be written. Call
// it after the mount exists and before files are opened (an open file keeps
// the read-ahead it started with); before the kernel's INIT is answered the
// INIT reply's max_readahead still caps it. Thread-safe (no shared state).
int set_mount_readahead(const std::string& mountpoint, unsigned kib);

}  // namespace bucketfs::fusefs
