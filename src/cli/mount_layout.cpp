// mount_layout.cpp - see mount_layout.hpp.
#include "bucketfs/cli/mount_layout.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "bucketfs/sign/crypto.hpp"

namespace bucketfs::cli {
namespace {

std::string short_hash(const std::string& s) { return crypto::hex(crypto::sha256(s)).substr(0, 12); }

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out.substr(0, 64);
}

std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

}  // namespace

MountLayout layout_for(const std::string& cache_dir, const std::string& endpoint, const std::string& bucket,
                       const std::string& prefix) {
  MountLayout l;
  l.state_dir = cache_dir + "/" + safe_name(bucket) + "-" + short_hash(endpoint + "\n" + bucket + "\n" + prefix);
  l.checkpoint_dir = l.state_dir + "/checkpoint";
  l.staging_dir = l.state_dir + "/staging";
  return l;
}

Result<Ok, std::string> make_private_dirs(const std::string& dir) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot create " + cur + ": " + std::strerror(errno);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return dir + " is not a directory";
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return "cannot make " + dir + " private (chmod 700): " + std::strerror(errno);
  return Ok{};
}

Result<Ok, std::string> register_mount(const std::string& cache_dir, const std::string& mountpoint,
                                       const std::string& state_dir) {
  std::string dir = cache_dir + "/mounts";
  if (auto r = make_private_dirs(dir); !r) return r.error();
  std::string path = dir + "/" + short_hash(canonical(mountpoint));
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
  std::string content = state_dir + "\n";
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return "cannot write " + path + ": " + std::strerror(errno);
  return Ok{};
}

std::string lookup_mount(const std::string& cache_dir, const std::string& mountpoint) {
  std::string path = cache_dir + "/mounts/" + short_hash(canonical(mountpoint));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[PATH_MAX + 2];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return {};
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace bucketfs::cli
