// staging_area.cpp - see staging_area.hpp for the durability order.
#include "bucketfs/stage/staging_area.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>

#include "bucketfs/util/crashpoint.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::stage {
namespace {

constexpr const char* kMarkXattr = "user.bucketfs.mark";
constexpr const char* kLegacyXattr = "user.bucketfs.key";  // "KEY\nGENERATION\n", written by bucketfs < 0.3
constexpr size_t kMaxMark = 64 * 1024;

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// "<id>.data" -> "<id>"
std::string stem(const std::string& name) { return name.substr(0, name.size() - 5); }

int64_t mtime_ns_of(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Reads a whole small file relative to dfd; false if it is absent or unreadable.
bool read_small(int dfd, const std::string& name, std::string* out) {
  Fd fd(::openat(dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > kMaxMark) return false;
  }
}

bool read_xattr(int fd, const char* name, std::string* out) {
  out->assign(kMaxMark, '\0');
  ssize_t got = ::fgetxattr(fd, name, out->data(), out->size());
  if (got < 0) return false;
  out->resize(static_cast<size_t>(got));
  return true;
}

// The version-0 mark: "KEY\nGENERATION\n" (a key may hold newlines).
bool parse_legacy(std::string v, ClosedMark* out) {
  if (v.size() < 2 || v.back() != '\n') return false;
  v.pop_back();
  auto nl = v.rfind('\n');
  if (nl == std::string::npos || nl == 0) return false;
  out->key = v.substr(0, nl);
  out->generation = std::strtoull(v.c_str() + nl + 1, nullptr, 10);
  out->legacy = true;
  return true;
}

}  // namespace

Result<std::unique_ptr<StagingArea>, std::string> StagingArea::open(const std::string& dir,
                                                                    uint64_t reserve_bytes) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return "cannot create the staging directory " + dir + ": " + std::strerror(errno);
  Dir d;
  if (int err = Dir::open(dir, &d))
    return "cannot open the staging directory " + dir + ": " + std::strerror(err) +
           (err == ELOOP || err == ENOTDIR ? " (it must be a real directory, not a symlink)" : "");
  struct stat st;
  if (::fstat(d.fd(), &st) != 0) return "cannot stat the staging directory " + dir + ": " + std::strerror(errno);
  if (st.st_uid != ::geteuid())
    return "the staging directory " + dir + " belongs to another user (uid " + std::to_string(st.st_uid) +
           "); remove it or choose another cache_dir";
  // Staged data is the user's file content: private to the user.
  if ((st.st_mode & 077) != 0 && ::fchmod(d.fd(), 0700) != 0)
    return "cannot make the staging directory " + dir + " private (chmod 700): " + std::strerror(errno);
  return std::unique_ptr<StagingArea>(new StagingArea(dir, std::move(d), reserve_bytes));
}

bool StagingArea::owns(const std::string& path) const {
  if (path.size() <= dir_.size() + 1 || path.compare(0, dir_.size(), dir_) != 0 || path[dir_.size()] != '/')
    return false;
  std::string name = path.substr(dir_.size() + 1);
  if (!ends_with(name, ".data") || name.size() == 5) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return name[0] != '.';
}

Result<Fd, int> StagingArea::open_file(const std::string& path, int flags) const {
  if (!owns(path)) return EINVAL;
  const std::string name = path.substr(dir_.size() + 1);
  Fd fd(::openat(dfd_.fd(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno;
  return fd;
}

Result<StagedFile, int> StagingArea::create() {
  if (int err = check_space(0); err != 0) return err;
  std::string id;
  {
    std::lock_guard lock(mu_);
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lx-%d-%lu-%08lx", static_cast<long>(std::time(nullptr)),
                  static_cast<int>(::getpid()), static_cast<unsigned long>(++counter_),
                  static_cast<unsigned long>(rng() & 0xffffffffu));
    id = buf;
  }
  StagedFile f;
  f.path = dir_ + "/" + id + ".data";
  f.fd.reset(
      ::openat(dfd_.fd(), (id + ".data").c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!f.fd) return errno;
  note_change();
  return f;
}

int StagingArea::sync_dir() {
  std::lock_guard lock(sync_mu_);
  const uint64_t target = changes_.load();
  if (synced_ >= target) return 0;  // a sync that began after these changes covered them
  if (int err = dfd_.sync()) return err;
  synced_ = target;
  return 0;
}

int StagingArea::write_mark(const std::string& name, int fd, const ClosedMark& m) {
  const std::string value = encode_mark(m);
  if (xattrs_.load()) {
    if (::fsetxattr(fd, kMarkXattr, value.data(), value.size(), 0) == 0) return fsync_fd(fd);
    if (errno == ENOTSUP || errno == EOPNOTSUPP)
      xattrs_.store(false);
    else if (errno != E2BIG && errno != ENOSPC && errno != ERANGE)
      return errno;
  }
  // The sidecar: written whole under a temporary name, then renamed over.
  const std::string side = stem(name) + ".mark", tmp = side + ".tmp";
  Fd out(::openat(dfd_.fd(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return errno;
  note_change();
  int err = write_full(out.get(), value.data(), value.size());
  if (err == 0) err = fsync_fd(out.get());
  out.reset();
  if (err == 0 && ::renameat(dfd_.fd(), tmp.c_str(), dfd_.fd(), side.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlinkat(dfd_.fd(), tmp.c_str(), 0);
    return err;
  }
  note_change();
  return sync_dir();
}

int StagingArea::mark_closed(const std::string& path, int fd, ClosedMark* m) {
  if (!owns(path)) return EINVAL;
  if (int err = fsync_fd(fd)) return err;
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno;
  m->size = static_cast<uint64_t>(st.st_size);
  m->mtime_ns = mtime_ns_of(st);
  BFS_CRASHPOINT("close.data_synced");
  if (int err = sync_dir()) return err;  // the data file's own entry, if it is new
  BFS_CRASHPOINT("close.entry_synced");
  int err = write_mark(path.substr(dir_.size() + 1), fd, *m);
  if (err == 0) BFS_CRASHPOINT("close.marked");
  LOG_DEBUG("staging: " << path << " closed as " << m->key << " generation " << m->generation << " (" << m->size
                        << " bytes)" << (err ? ": " + std::string(std::strerror(err)) : ""));
  return err;
}

int StagingArea::rewrite_mark(const std::string& path, const ClosedMark& m) {
  // As in drop_mark: older generations of the key, unlinked when this one was
  // closed, are gone durably BEFORE this mark may name another key (rename).
  // Otherwise a power cut could bring an older marked file back with no newer
  // mark for its key left, and the next mount would upload the old version
  // under the old name the rename took away.
  if (int err = sync_dir()) return err;
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fd.error();
  LOG_DEBUG("staging: " << path << " now closed as " << m.key << " generation " << m.generation);
  return write_mark(path.substr(dir_.size() + 1), fd->get(), m);
}

int StagingArea::drop_mark(const std::string& path) {
  LOG_DEBUG("staging: " << path << " uploaded: its mark goes");
  // Earlier removals (older generations of the key, unlinked when this one
  // was closed) are made durable BEFORE this mark goes: a power cut between
  // the two would otherwise leave the older file with its mark and no newer
  // one, and the next mount would upload the older version over this one.
  if (int err = sync_dir()) return err;
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fd.error();
  bool removed = false;
  for (const char* name : {kMarkXattr, kLegacyXattr}) {
    if (::fremovexattr(fd->get(), name) == 0)
      removed = true;
    else if (errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP)
      return errno;
  }
  if (removed) {
    if (int err = fsync_fd(fd->get())) return err;
  }
  const std::string s = stem(path.substr(dir_.size() + 1));
  for (const std::string& side : {s + ".mark", s + ".key"}) {
    if (::unlinkat(dfd_.fd(), side.c_str(), 0) == 0)
      note_change();
    else if (errno != ENOENT)
      return errno;
  }
  return sync_dir();  // the sidecars' unlinks
}

void StagingArea::remove(const std::string& path) {
  if (!owns(path)) return;
  LOG_DEBUG("staging: " << path << " removed");
  const std::string name = path.substr(dir_.size() + 1), s = stem(name);
  for (const std::string& n : {name, s + ".mark", s + ".key"})
    if (::unlinkat(dfd_.fd(), n.c_str(), 0) == 0) note_change();
}

int StagingArea::remove_durably(const std::vector<std::string>& paths) {
  for (const auto& p : paths) remove(p);
  return sync_dir();
}

void StagingArea::write_behind(int fd, uint64_t off, uint64_t len) {
  // Advice only: the fsync at close is what makes the bytes durable.
  (void)::sync_file_range(fd, static_cast<off64_t>(off), static_cast<off64_t>(len), SYNC_FILE_RANGE_WRITE);
}

int StagingArea::check_space(uint64_t bytes) {
  struct statvfs sv;
  if (::fstatvfs(dfd_.fd(), &sv) != 0) return errno;
  uint64_t avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  if (avail < bytes || avail - bytes < reserve_) return ENOSPC;
  return 0;
}

StagedEntry StagingArea::read_entry(const std::string& path) const {
  StagedEntry e;
  e.path = path;
  auto fd = open_file(path, O_RDONLY);
  struct stat st;
  if (!fd || ::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return e;  // gone: nothing to upload
  const std::string s = stem(path.substr(dir_.size() + 1));
  // Candidates, newest format first; the valid one with the highest generation wins.
  bool found_valid = false, found_damaged = false;
  std::string why;
  auto consider = [&](const ClosedMark& m) {
    if (!found_valid || m.generation > e.mark.generation) e.mark = m;
    found_valid = true;
  };
  std::string raw;
  ClosedMark m;
  if (read_xattr(fd->get(), kMarkXattr, &raw)) {
    if (decode_mark(raw, &m, &why))
      consider(m);
    else
      found_damaged = true;
  }
  if (read_small(dfd_.fd(), s + ".mark", &raw)) {
    if (decode_mark(raw, &m, &why))
      consider(m);
    else
      found_damaged = true;
  }
  for (bool side : {false, true}) {
    bool got = side ? read_small(dfd_.fd(), s + ".key", &raw) : read_xattr(fd->get(), kLegacyXattr, &raw);
    ClosedMark legacy;
    if (got && parse_legacy(raw, &legacy)) {
      // Written before size and mtime were recorded: the file as it is now.
      legacy.size = static_cast<uint64_t>(st.st_size);
      legacy.mtime_ns = mtime_ns_of(st);
      consider(legacy);
    }
  }
  if (found_valid) {
    e.state = MarkState::Valid;
    if (e.mark.size != static_cast<uint64_t>(st.st_size) || e.mark.mtime_ns != mtime_ns_of(st)) {
      e.state = MarkState::Changed;
      e.problem = "the staging file " + path + " changed after it was closed (" + std::to_string(st.st_size) +
                  " bytes, closed with " + std::to_string(e.mark.size) + ")";
    }
  } else if (found_damaged) {
    e.state = MarkState::Damaged;
    e.problem = "the closed mark of " + path + " is damaged (" + why + ")";
  }
  return e;
}

std::vector<StagedEntry> StagingArea::scan(bool tidy) {
  std::vector<StagedEntry> out;
  std::vector<std::string> names;
  if (dfd_.list(&names) != 0) return out;
  for (const auto& name : names) {
    const std::string path = dir_ + "/" + name;
    if (ends_with(name, ".data")) {
      struct stat st;
      if (!owns(path) || ::fstatat(dfd_.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        continue;  // not ours: never opened, uploaded or removed
      out.push_back(read_entry(path));
    } else if (!tidy) {
      continue;
    } else if (ends_with(name, ".mark.tmp")) {
      if (::unlinkat(dfd_.fd(), name.c_str(), 0) == 0) note_change();  // a mark that was never renamed in
    } else if (ends_with(name, ".mark") || ends_with(name, ".key")) {
      std::string data = name.substr(0, name.rfind('.')) + ".data";
      struct stat st;
      if (::fstatat(dfd_.fd(), data.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
          ::unlinkat(dfd_.fd(), name.c_str(), 0) == 0)
        note_change();  // the mark of a file already removed
    }
  }
  return out;
}

}  // namespace bucketfs::stage
