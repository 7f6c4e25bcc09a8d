// runtime_registry.cpp - see runtime_registry.hpp.
#include "bucketfs/cli/runtime_registry.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/text.hpp"

namespace bucketfs::cli {

namespace {

std::string record_name(const std::string& canonical) {
  return crypto::hex(crypto::sha256(canonical)).substr(0, 16);
}

// A directory we own and nobody else can write (guards /tmp against a
// directory planted by another user).
bool safe_dir(const std::string& dir) {
  struct stat st;
  return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
         (st.st_mode & 022) == 0;
}

std::string escape(const std::string& v) { return backslash_escape(v); }

std::string unescape(const std::string& v) { return backslash_unescape(v); }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unoctal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (int k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool read_small(const std::string& path, std::string* out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  char buf[8192];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n <= 0) return false;
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

bool find_in(const std::string& dir, const std::string& canonical, MountRecord* out) {
  std::string text;
  if (!read_small(dir + "/mounts/" + record_name(canonical), &text)) return false;
  MountRecord r;
  if (!parse_mount_record(text, &r) || r.mountpoint != canonical) return false;
  *out = std::move(r);
  return true;
}

}  // namespace

std::string runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/' && safe_dir(xdg)) return std::string(xdg) + "/bucketfs";
  if (::geteuid() == 0) return "/run/bucketfs";
  std::string user_run = "/run/user/" + std::to_string(::geteuid());
  if (safe_dir(user_run)) return user_run + "/bucketfs";
  return "/tmp/bucketfs-" + std::to_string(::geteuid());
}

std::string canonical_mountpoint(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
  std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  char buf[PATH_MAX];
  if (::realpath(parent.c_str(), buf) == nullptr) return p;
  std::string out = buf;
  if (base.empty() || base == ".") return out;
  return out == "/" ? "/" + base : out + "/" + base;
}

std::string format_mount_record(const MountRecord& r) {
  std::ostringstream o;
  o << "version=1\n"
    << "mountpoint=" << escape(r.mountpoint) << "\n"
    << "state_dir=" << escape(r.state_dir) << "\n"
    << "bucket=" << escape(r.bucket) << "\n"
    << "endpoint=" << escape(r.endpoint) << "\n"
    << "pid=" << r.pid << "\n"
    << "metrics=" << escape(r.metrics) << "\n"
    << "credentials_source=" << escape(r.credentials_source) << "\n"
    << "credentials_usable=" << (r.credentials_usable ? 1 : 0) << "\n"
    << "credentials_expiration=" << r.credentials_expiration << "\n"
    << "credentials_error=" << escape(r.credentials_error) << "\n"
    << "credentials_failing_since=" << r.credentials_failing_since << "\n";
  return o.str();
}

bool parse_mount_record(const std::string& text, MountRecord* out) {
  *out = MountRecord{};
  std::istringstream in(text);
  std::string line;
  bool versioned = false;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = unescape(line.substr(eq + 1));
    if (k == "version")
      versioned = v == "1";
    else if (k == "mountpoint")
      out->mountpoint = v;
    else if (k == "state_dir")
      out->state_dir = v;
    else if (k == "bucket")
      out->bucket = v;
    else if (k == "endpoint")
      out->endpoint = v;
    else if (k == "pid")
      out->pid = static_cast<pid_t>(std::atol(v.c_str()));
    else if (k == "metrics")
      out->metrics = v;
    else if (k == "credentials_source")
      out->credentials_source = v;
    else if (k == "credentials_usable")
      out->credentials_usable = v == "1";
    else if (k == "credentials_expiration")
      out->credentials_expiration = std::atoll(v.c_str());
    else if (k == "credentials_error")
      out->credentials_error = v;
    else if (k == "credentials_failing_since")
      out->credentials_failing_since = std::atoll(v.c_str());
  }
  return versioned && !out->mountpoint.empty() && !out->state_dir.empty();
}

Result<Ok, std::string> write_mount_record(const MountRecord& r) {
  const std::string dir = runtime_dir();
  if (auto d = make_private_dirs(dir + "/mounts"); !d) return d.error();
  if (!safe_dir(dir) || !safe_dir(dir + "/mounts"))
    return dir + " is not a private directory of this user; not registering the mount there";
  const std::string path = dir + "/mounts/" + record_name(r.mountpoint);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return "cannot write " + tmp + ": " + std::strerror(errno);
  const std::string text = format_mount_record(r);
  int e = write_full(fd.get(), text.data(), text.size());
  if (int c = fd.close(); e == 0) e = c;
  if (e == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) e = errno;
  if (e != 0) {
    ::unlink(tmp.c_str());
    return "cannot write " + path + ": " + std::strerror(e);
  }
  return Ok{};
}

bool find_mount_record(const std::string& mountpoint, MountRecord* out) {
  const std::string canonical = canonical_mountpoint(mountpoint);
  if (find_in(runtime_dir(), canonical, out)) return true;
  if (::geteuid() != 0) return false;
  // root: a mount another user made registers in that user's runtime dir.
  std::vector<std::string> dirs = {"/run/bucketfs"};
  std::vector<std::string> names;
  (void)list_dir("/run/user", &names);  // none when it cannot be read
  for (const auto& n : names)
    if (n[0] != '.') dirs.push_back("/run/user/" + n + "/bucketfs");
  names.clear();
  (void)list_dir("/tmp", &names);
  for (const auto& n : names)
    if (n.rfind("bucketfs-", 0) == 0) dirs.push_back("/tmp/" + n);
  for (const auto& dir : dirs)
    if (find_in(dir, canonical, out)) return true;
  return false;
}

bool mount_is_live(const MountRecord& r) {
  if (r.pid <= 0 || (::kill(r.pid, 0) != 0 && errno != EPERM)) return false;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mnt, field;
    f >> id >> parent >> dev >> root >> mnt;
    while (f >> field && field != "-") {
    }
    std::string fstype;
    f >> fstype;
    if (fstype == "fuse.bucketfs" && unoctal(mnt) == r.mountpoint) return true;
  }
  return false;
}

}  // namespace bucketfs::cli
