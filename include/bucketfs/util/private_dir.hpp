// private_dir.hpp - opening the cache dir the way ssh opens ~/.ssh: refusing
// one that another local user could change under us.
//
// A root mount whose cache dir another user can write (a world-writable parent,
// a planted symlink) could otherwise be made to truncate or upload any file of
// the system. So the path is walked from "/" one component at a time, each
// opened relative to its parent (O_PATH | O_NOFOLLOW) and checked on the open
// descriptor, never by name:
//   - every component must be owned by root or the effective user, and not be
//     writable by group or others unless it has the sticky bit (as /tmp does:
//     there nobody may rename or delete an entry they do not own);
//   - the directory itself must be owned by the effective user and not be
//     writable by group or others; read/search bits for group and others are
//     taken away (chmod 700), as for a directory this code creates;
//   - a symlink is followed only if owned by root or the effective user (its
//     directory already passed the checks, so no one else could plant it), at
//     most 40 of them;
//   - missing components are created with mode 0700 (mkdirat, never following
//     a symlink), then checked like the others.
// Errors are one line naming the component and what to do. Reentrant.
#pragma once

#include <sys/types.h>

#include <string>

#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs {

struct PrivateDir {
  Fd fd;             // O_PATH descriptor of the directory: use with openat()/mkdirat()
  std::string path;  // absolute, symlink-free path it was reached by
};

// Opens (creating as needed) `dir`; a relative dir is taken from the current
// directory. `what` names it in errors ("cache dir", "state dir").
Result<PrivateDir, std::string> open_private_dir(const std::string& dir, const std::string& what = "cache dir");

// Opens `name` inside the directory `dirfd` (whose path, for messages, is
// dir_path) with `flags` plus O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, creating it
// with `mode` when flags has O_CREAT. Refuses a symlink, and anything but a
// regular file owned by the effective user with a single link (a planted hard
// link to a system file, a FIFO, a device). O_NONBLOCK is cleared again
// before returning. Never truncates.
Result<Fd, std::string> open_private_file(int dirfd, const std::string& dir_path, const std::string& name,
                                          int flags, mode_t mode);

// Checks an open file as open_private_file does; "" if it passes, else why not.
std::string check_private_file(int fd, const std::string& path);

}  // namespace bucketfs
