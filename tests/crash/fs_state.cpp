// fs_state.cpp - see fs_state.hpp.
#include "fs_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace crash {
namespace {

struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* p, size_t n) {
    auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 0x100000001b3ull;
  }
  void add(const std::string& s) {
    uint64_t n = s.size();
    add(&n, sizeof n);
    add(s.data(), s.size());
  }
};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

void Image::write(uint64_t off, const char* data, size_t n, bool grow) {
  if (bytes.size() < off + n) bytes.resize(off + n, '\0');
  std::memcpy(bytes.data() + off, data, n);
  if (grow && off + n > size) size = off + n;
}

void Image::set_size(uint64_t n) {
  size = n;
  bytes.resize(n, '\0');  // what lay beyond a truncation is gone for good
}

void Image::extend(uint64_t n) {
  if (n <= size) return;
  size = n;
  if (bytes.size() < n) bytes.resize(n, '\0');
}

std::string Image::content() const {
  std::string out = bytes.substr(0, std::min<uint64_t>(bytes.size(), size));
  out.resize(size, '\0');
  return out;
}

uint64_t FsState::hash() const {
  Fnv f;
  for (const auto& [path, id] : ns) {
    f.add(path);
    if (dirs.count(id)) {
      f.add("/dir");
      continue;
    }
    auto it = files.find(id);
    if (it == files.end()) continue;
    f.add(it->second.content());
    f.add(&it->second.mtime, sizeof it->second.mtime);
    for (const auto& [k, v] : it->second.xattrs) {
      f.add(k);
      f.add(v);
    }
  }
  return f.h;
}

std::string FsState::materialize(const std::string& root) const {
  if (::mkdir(root.c_str(), 0700) != 0) return "cannot create " + root + ": " + std::strerror(errno);
  for (const auto& [path, id] : ns) {
    if (path.empty()) continue;
    const std::string abs = root + "/" + path;
    if (dirs.count(id)) {
      if (::mkdir(abs.c_str(), 0700) != 0) return "cannot create " + abs + ": " + std::strerror(errno);
      continue;
    }
    auto it = files.find(id);
    if (it == files.end()) continue;
    int fd = ::open(abs.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot create " + abs + ": " + std::strerror(errno);
    const std::string c = it->second.content();
    bool ok = write_all(fd, c.data(), c.size());
    for (const auto& [k, v] : it->second.xattrs) ok = ok && ::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0) == 0;
    if (ok && it->second.mtime >= 0) {
      // The recovery compares a staging file's mtime with its record's.
      struct timespec ts[2] = {{0, UTIME_OMIT}, {it->second.mtime / 1000000000, it->second.mtime % 1000000000}};
      ok = ::futimens(fd, ts) == 0;
    }
    int err = errno;
    ::close(fd);
    if (!ok) return "cannot write " + abs + ": " + std::strerror(err);
  }
  return "";
}

bool remove_tree(const std::string& path, std::string* error) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && error) *error = "cannot remove " + path + ": " + ec.message();
  return !ec;
}

}  // namespace crash
