// runtime_registry.hpp - how `bucketfs status MOUNTPOINT` finds a mount
// whatever cache_dir it was given.
//
// Each mount, once it serves, writes one small record for its mountpoint in
// the runtime directory of the user running it:
//   $XDG_RUNTIME_DIR/bucketfs/mounts/<hash>     (a user with a session)
//   /run/bucketfs/mounts/<hash>                 (root)
//   /run/user/<uid>/bucketfs/mounts/<hash>      (a user without XDG_RUNTIME_DIR)
//   /tmp/bucketfs-<uid>/mounts/<hash>           (none of those exist)
// <hash> is of the canonical mountpoint (parent resolved, the mountpoint
// itself not stat'ed, so that a hung mount cannot hang `status`). The record
// says where the state is (the checkpoint store) and what `status` should
// show about the running daemon: its pid, the metrics address, and the
// credentials' state (source, expiry, why refreshing fails). It is rewritten
// (write + rename) whenever that state changes, kept after unmount (the state
// dir stays valid) and gone at reboot with the runtime directory. Directories
// are 0700 and records 0600; records never hold a secret.
//
// Why a registry rather than a virtual extended attribute on the mount's
// root: it answers for a mount that is hung or gone, needs nothing from the
// FUSE layer, and `status` can read the checkpoint store without touching
// the mount at all.
// Thread-safety: reentrant (each write is a rename of a fresh file).
#pragma once

#include <sys/types.h>
#include <string>
#include <vector>

#include "bucketfs/util/result.hpp"

namespace bucketfs::cli {

struct MountRecord {
  std::string mountpoint;  // canonical
  std::string state_dir;
  std::string bucket;
  std::string endpoint;
  pid_t pid = 0;
  std::string metrics;  // "127.0.0.1:9100" or ""
  // Credentials (from creds::ProviderState; never a secret).
  std::string credentials_source;
  bool credentials_usable = true;
  long long credentials_expiration = 0;  // unix time, 0 = none
  std::string credentials_error;         // last refresh error, "" when fine
  long long credentials_failing_since = 0;
};

// The runtime directory this process registers in (see above).
std::string runtime_dir();

// "/a/b/mnt" with /a/b resolved by realpath and the last component kept.
std::string canonical_mountpoint(const std::string& path);

// Writes (replaces) the record for r.mountpoint; an error line otherwise.
Result<Ok, std::string> write_mount_record(const MountRecord& r);

// The record for mountpoint in this user's runtime directory, or (for root)
// in any user's; false when there is none.
bool find_mount_record(const std::string& mountpoint, MountRecord* out);

// Whether the record's daemon still serves its mountpoint (pid alive and a
// fuse.bucketfs mount at that path in /proc/self/mountinfo).
bool mount_is_live(const MountRecord& r);

// Record <-> text ("key=value" lines; values escaped so one line stays one).
std::string format_mount_record(const MountRecord& r);
bool parse_mount_record(const std::string& text, MountRecord* out);

}  // namespace bucketfs::cli
