// fd.cpp - see fd.hpp.
#include "bucketfs/util/fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace bucketfs {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

int Fd::close() noexcept {
  if (fd_ < 0) return 0;
  int rc = ::close(std::exchange(fd_, -1));
  return rc == 0 ? 0 : errno;
}

int Dir::open(const std::string& path, Dir* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  out->fd_.reset(fd);
  return 0;
}

int Dir::sync() const { return fsync_fd(fd_.get()); }

namespace {

// Reads the names of the directory open at fd and closes fd, which it owns.
int read_names(int fd, std::vector<std::string>* names) {
  if (fd < 0) return errno;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return err;
  }
  int err = 0;
  for (;;) {
    errno = 0;  // readdir's end and its error differ only by errno
    const struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      err = errno;
      break;
    }
    const char* n = e->d_name;
    if (!(n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))) names->emplace_back(n);
  }
  ::closedir(d);
  return err;
}

}  // namespace

// A second descriptor of the directory, so that closedir does not close ours
// and the listing starts at the beginning whatever an earlier one left.
int Dir::list(std::vector<std::string>* names) const {
  return read_names(::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), names);
}

int list_dir(const std::string& path, std::vector<std::string>* names) {
  return read_names(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), names);
}

int pread_full(int fd, void* buf, size_t n, uint64_t off, size_t* got) {
  size_t done = 0;
  int err = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (r == 0) break;  // EOF
    done += static_cast<size_t>(r);
  }
  if (got) *got = done;
  return err;
}

int pwrite_full(int fd, const void* buf, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, static_cast<const char*>(buf) + done, n - done, static_cast<off_t>(off + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(w);
  }
  return 0;
}

int write_full(int fd, const void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, static_cast<const char*>(buf) + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(w);
  }
  return 0;
}

int fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

}  // namespace bucketfs
