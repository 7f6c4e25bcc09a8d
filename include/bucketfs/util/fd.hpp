// fd.hpp - owned file descriptors and whole-buffer I/O.
//
// Fd: a move-only owner of one descriptor; the destructor closes it. Dir: an
// Fd opened on a directory with O_DIRECTORY, for *at() calls relative to it;
// list()/list_dir() read a directory's names without a DIR* to close by hand.
// pread_full/pwrite_full/write_full: retry on EINTR and on short counts, so a
// caller never loops by hand. Errors are errno values (0 on success).
// Thread-safety: an Fd is owned by one object; the I/O helpers are safe to call
// concurrently on one descriptor (they use positional I/O or one write).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bucketfs {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  // Gives the descriptor up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the descriptor held (if any) and takes fd.
  void reset(int fd = -1) noexcept;
  // Closes now and reports what close(2) said (0 or errno; 0 if none was
  // held), for writers that must know a deferred write error.
  int close() noexcept;

 private:
  int fd_ = -1;
};

// A directory opened for *at() calls. open() refuses a symlink as the last
// component (O_NOFOLLOW); errors are errno values.
class Dir {
 public:
  Dir() = default;
  static int open(const std::string& path, Dir* out);
  int fd() const noexcept { return fd_.get(); }
  bool valid() const noexcept { return fd_.valid(); }
  // fsync of the directory: makes creations, unlinks and renames in it durable.
  int sync() const;
  // The names of its entries, "." and ".." left out, in readdir order. 0 or errno.
  int list(std::vector<std::string>* names) const;

 private:
  Fd fd_;
};

// Reads exactly n bytes at off unless EOF comes first; *got (optional) tells
// how many were read. 0 or errno.
int pread_full(int fd, void* buf, size_t n, uint64_t off, size_t* got = nullptr);
// Writes all n bytes at off. 0 or errno.
int pwrite_full(int fd, const void* buf, size_t n, uint64_t off);
// Writes all n bytes at the current offset. 0 or errno.
int write_full(int fd, const void* buf, size_t n);
// The names of the entries of the directory at path (a symlink to one is
// followed, as by opendir), "." and ".." left out. 0 or errno.
int list_dir(const std::string& path, std::vector<std::string>* names);
// fsync(fd) as an errno value (0 on success).
int fsync_fd(int fd);

}  // namespace bucketfs
