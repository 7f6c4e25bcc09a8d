// private_dir.cpp - see private_dir.hpp.
#include "bucketfs/util/private_dir.hpp"

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

namespace bucketfs {
namespace {

constexpr int kMaxSymlinks = 40;  // as the kernel's path walk

std::string who(uid_t uid) {
  std::string out = "uid " + std::to_string(uid);
  struct passwd pw, *found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr)
    out += std::string(" (") + pw.pw_name + ")";
  return out;
}

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

std::string join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

void split_into(const std::string& path, std::deque<std::string>* out) {
  std::deque<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  out->insert(out->begin(), parts.begin(), parts.end());
}

// Why a directory on the way (last: the directory asked for) cannot be trusted; "" if it can.
std::string distrust(const std::string& what, const std::string& path, const struct stat& st, bool last) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me && (last || st.st_uid != 0)) {
    return what + " refused: " + path + " is owned by " + who(st.st_uid) + ", not by you (" + who(me) +
           (last ? ")" : ") or root") +
           "; another user could change what bucketfs keeps there; use a directory of your own";
  }
  const bool sticky = (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (last || !sticky)) {
    std::string by = (st.st_mode & S_IWOTH) ? "other users" : "its group";
    return what + " refused: " + path + " is writable by " + by + " (mode " + mode_text(st.st_mode) +
           "), who could replace what bucketfs keeps there; run chmod go-w " + path + " or use another directory";
  }
  return "";
}

}  // namespace

Result<PrivateDir, std::string> open_private_dir(const std::string& dir, const std::string& what) {
  if (dir.empty()) return what + ": empty path";
  std::string abs = dir;
  if (abs[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return what + " " + dir + ": cannot find the current directory";
    abs = std::string(cwd) + "/" + abs;
  }
  struct Level {
    Fd fd;
    std::string path;
  };
  std::vector<Level> stack;
  {
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (!root.valid() || ::fstat(root.get(), &st) != 0) return what + ": cannot open /: " + std::strerror(errno);
    if (std::string why = distrust(what, "/", st, false); !why.empty()) return why;
    stack.push_back({std::move(root), "/"});
  }
  std::deque<std::string> todo;
  split_into(abs, &todo);
  int symlinks = 0;
  while (!todo.empty()) {
    const std::string name = todo.front();
    todo.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    const Level& top = stack.back();
    const std::string path = join(top.path, name);
    struct stat st {};
    if (::fstatat(top.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return "cannot use " + what + " " + dir + ": " + path + ": " + std::strerror(errno);
      if (::mkdirat(top.fd.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
        return "cannot create " + what + " " + path + ": " + std::strerror(errno);
      if (::fstatat(top.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return "cannot create " + what + " " + path + ": " + std::strerror(errno);
    }
    if (S_ISLNK(st.st_mode)) {
      if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        return what + " refused: " + path + " is a symlink owned by " + who(st.st_uid) +
               ", who could point it anywhere; remove it or use another directory";
      }
      if (++symlinks > kMaxSymlinks) return "cannot use " + what + " " + dir + ": too many symlinks at " + path;
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(top.fd.get(), name.c_str(), target, sizeof target - 1);
      if (n <= 0) return "cannot use " + what + " " + dir + ": cannot read the symlink " + path;
      const std::string t(target, static_cast<size_t>(n));
      if (t[0] == '/') stack.resize(1);
      split_into(t, &todo);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return "cannot use " + what + " " + dir + ": " + path + " is not a directory";
    Fd fd(::openat(top.fd.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
      return "cannot open " + what + " " + path + ": " + std::strerror(errno);
    if (std::string why = distrust(what, path, st, todo.empty()); !why.empty()) return why;
    stack.push_back({std::move(fd), path});
  }
  Level& last = stack.back();
  struct stat st {};
  if (::fstat(last.fd.get(), &st) != 0)
    return "cannot open " + what + " " + last.path + ": " + std::strerror(errno);
  // "/" itself (or a path that climbs back to it) is never a private directory.
  if (stack.size() == 1) return what + " refused: / is not a directory of your own; use another directory";
  // Again as the directory asked for: a trailing "." or ".." made the walk
  // check it as one on the way (where /tmp would pass).
  if (std::string why = distrust(what, last.path, st, true); !why.empty()) return why;
  if ((st.st_mode & 077) != 0) {
    Fd rd(::openat(last.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rd.valid() || ::fchmod(rd.get(), 0700) != 0)
      return "cannot make " + what + " " + last.path + " private (chmod 700): " + std::strerror(errno);
  }
  return PrivateDir{std::move(last.fd), last.path};
}

std::string check_private_file(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "cannot stat " + path + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return path + " is not a regular file; remove it";
  if (st.st_uid != ::geteuid())
    return path + " is owned by " + who(st.st_uid) + ", not by you (" + who(::geteuid()) + "); remove it";
  if (st.st_nlink != 1)
    return path + " has " + std::to_string(st.st_nlink) + " hard links (a planted link?); remove it";
  return "";
}

Result<Fd, std::string> open_private_file(int dirfd, const std::string& dir_path, const std::string& name,
                                          int flags, mode_t mode) {
  const std::string path = join(dir_path, name);
  Fd fd(::openat(dirfd, name.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode));
  if (!fd.valid()) {
    const int err = errno;
    struct stat st {};
    // ELOOP, or EACCES where the kernel protects symlinks in sticky dirs.
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
      return path + " is a symlink (planted?); remove it";
    return "cannot open " + path + ": " + std::strerror(err);
  }
  if (std::string why = check_private_file(fd.get(), path); !why.empty()) return why;
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0)
    return "cannot open " + path + ": " + std::strerror(errno);
  return fd;
}

}  // namespace bucketfs
