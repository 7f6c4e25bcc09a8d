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

#include "bucketfs/cli/options.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/private_dir.hpp"

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

Result<Ok, std::string> make_private_dirs(const std::string& dir, std::string* resolved) {
  auto opened = open_private_dir(dir);
  if (!opened) return opened.error();
  if (resolved != nullptr) *resolved = opened->path;
  return Ok{};
}

Result<Ok, std::string> register_mount(const std::string& cache_dir, const std::string& mountpoint,
                                       const std::string& state_dir) {
  auto dir = open_private_dir(cache_dir + "/mounts");
  if (!dir) return dir.error();
  const std::string name = short_hash(canonical(mountpoint));
  const std::string tmp = name + ".tmp";
  // A leftover (or planted) temp file is removed, never opened: O_EXCL and
  // O_NOFOLLOW create a fresh file or fail.
  if (::unlinkat(dir->fd.get(), tmp.c_str(), 0) != 0 && errno != ENOENT)
    return "cannot replace " + dir->path + "/" + tmp + ": " + std::strerror(errno);
  auto fd = open_private_file(dir->fd.get(), dir->path, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (!fd) return "cannot register the mount: " + fd.error();
  std::string content = state_dir + "\n";
  bool ok = ::write(fd->get(), content.data(), content.size()) == static_cast<ssize_t>(content.size());
  fd->reset();
  if (!ok || ::renameat(dir->fd.get(), tmp.c_str(), dir->fd.get(), name.c_str()) != 0)
    return "cannot write " + dir->path + "/" + name + ": " + std::strerror(errno);
  return Ok{};
}

std::string process_home() {
  const char* home = std::getenv("HOME");
  return home != nullptr ? home : "";
}

std::optional<std::string> process_cache_dir() { return default_cache_dir(process_home(), ::geteuid() == 0); }

std::string lookup_mount(const std::string& cache_dir, const std::string& mountpoint) {
  std::string path = cache_dir + "/mounts/" + short_hash(canonical(mountpoint));
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return {};
  char buf[PATH_MAX + 2];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace bucketfs::cli
