// staging_area.cpp - see staging_area.hpp.
#include "bucketfs/stage/staging_area.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>

namespace bucketfs::stage {
namespace {

std::string sidecar(const std::string& data_path) {
  return data_path.substr(0, data_path.size() - 5) + ".key";  // "<id>.data" -> "<id>.key"
}

int write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<size_t>(n);
  }
  return 0;
}

// Writes path durably via a temp file and rename, then syncs the directory.
int write_file_durably(const std::string& dir, const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = write_all(fd, content);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return err;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<StagingArea>, std::string> StagingArea::open(const std::string& dir,
                                                                    uint64_t reserve_bytes) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return "cannot create the staging directory " + dir + ": " + std::strerror(errno);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return "the staging path " + dir + " is not a directory";
  // Staged data is the user's file content: private to the user.
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return "cannot make the staging directory " + dir + " private (chmod 700): " + std::strerror(errno);
  return std::unique_ptr<StagingArea>(new StagingArea(dir, reserve_bytes));
}

Result<StagedFile, int> StagingArea::create() {
  if (int err = reserve(0); err != 0) return err;
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
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (f.fd < 0) return errno;
  return f;
}

// The closed mark lives in an extended attribute of the data file where the
// filesystem has them (ext4, xfs, tmpfs): one fsync of the data file then
// makes bytes and mark durable together. Elsewhere it is a sidecar file.
static constexpr const char* kKeyXattr = "user.bucketfs.key";

static int fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

int StagingArea::mark_closed(const std::string& data_path, const std::string& key, uint64_t generation) {
  const std::string value = key + "\n" + std::to_string(generation) + "\n";
  if (::setxattr(data_path.c_str(), kKeyXattr, value.data(), value.size(), 0) == 0) {
    ::unlink(sidecar(data_path).c_str());  // an older mark, if the file had one
    return fsync_path(data_path);
  }
  if (errno != ENOTSUP && errno != EOPNOTSUPP) return errno;
  if (int err = fsync_path(data_path)) return err;
  return write_file_durably(dir_, sidecar(data_path), value);
}

int StagingArea::drop_key(const std::string& data_path) {
  if (::removexattr(data_path.c_str(), kKeyXattr) == 0) return fsync_path(data_path);
  if (::unlink(sidecar(data_path).c_str()) != 0 && errno != ENOENT) return errno;
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return 0;
}

int StagingArea::reserve(uint64_t bytes) {
  struct statvfs sv;
  if (::statvfs(dir_.c_str(), &sv) != 0) return errno;
  uint64_t avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  if (avail < bytes || avail - bytes < reserve_) return ENOSPC;
  return 0;
}

void StagingArea::remove(const std::string& data_path) {
  ::unlink(data_path.c_str());
  ::unlink(sidecar(data_path).c_str());
}

bool StagingArea::read_key(const std::string& data_path, std::string* key, uint64_t* generation) {
  std::string out(2048, '\0');
  ssize_t got = ::getxattr(data_path.c_str(), kKeyXattr, out.data(), out.size());
  if (got >= 0) {
    out.resize(static_cast<size_t>(got));
  } else {
    int fd = ::open(sidecar(data_path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out.clear();
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
  }
  // "KEY\nGENERATION\n": the generation follows the last newline but one, so
  // a key that holds newlines reads back whole.
  if (out.size() < 2 || out.back() != '\n') return false;
  out.pop_back();
  auto nl = out.rfind('\n');
  if (nl == std::string::npos) return false;
  *key = out.substr(0, nl);
  if (generation) *generation = std::strtoull(out.c_str() + nl + 1, nullptr, 10);
  return true;
}

std::vector<StagedEntry> StagingArea::scan() const {
  std::vector<StagedEntry> out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".data") != 0) continue;
    StagedEntry se;
    se.path = dir_ + "/" + name;
    read_key(se.path, &se.key, &se.generation);
    out.push_back(std::move(se));
  }
  ::closedir(d);
  return out;
}

}  // namespace bucketfs::stage
