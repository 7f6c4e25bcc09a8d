// mount_layout.hpp - where a mount keeps its state under the cache dir.
//
//   CACHE/<bucket>-<hash>/checkpoint/   LMDB store (data.mdb, lock.mdb, lock)
//   CACHE/<bucket>-<hash>/staging/      staged files (<id>.data + <id>.key)
//   CACHE/mounts/<hash of mountpoint>   the state dir of the last mount there,
//                                       so `bucketfs status MOUNTPOINT` finds it
// <hash> is of endpoint + bucket + prefix: one store per mounted bucket prefix.
// Every directory is created 0700, and every one on the way is checked as ssh
// checks ~/.ssh (util/private_dir.hpp): a cache dir another user could change
// is refused. Files inside are opened relative to their directory, never
// following a symlink.
#pragma once

#include <optional>
#include <string>

#include "bucketfs/util/result.hpp"

namespace bucketfs::cli {

struct MountLayout {
  std::string state_dir;
  std::string checkpoint_dir;
  std::string staging_dir;
};

MountLayout layout_for(const std::string& cache_dir, const std::string& endpoint, const std::string& bucket,
                       const std::string& prefix);

// Creates dir and its parents as needed, 0700; an error line if it cannot or
// if another user could change it (see open_private_dir). *resolved, if
// given, receives its absolute symlink-free path.
Result<Ok, std::string> make_private_dirs(const std::string& dir, std::string* resolved = nullptr);

// Records that `mountpoint` is served from `state_dir`.
Result<Ok, std::string> register_mount(const std::string& cache_dir, const std::string& mountpoint,
                                       const std::string& state_dir);
// The state dir registered for mountpoint, or "" if none.
std::string lookup_mount(const std::string& cache_dir, const std::string& mountpoint);

// default_cache_dir() (options.hpp) for this process: its HOME, and whether
// its effective uid is root. None when HOME is unset (say kNoCacheDir).
std::optional<std::string> process_cache_dir();
// $HOME, or "" when it is unset.
std::string process_home();

}  // namespace bucketfs::cli
