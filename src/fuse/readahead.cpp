// readahead.cpp - see readahead.hpp.
#include "bucketfs/fuse/readahead.hpp"
#include "bucketfs/util/text.hpp"

#include <fcntl.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "bucketfs/util/fd.hpp"

namespace bucketfs::fusefs {
namespace {

bool octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> fuse_mount_device(std::string_view mountinfo, std::string_view mountpoint) {
  // A line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS.
  // Later lines are mounted later: the last match is the topmost mount.
  std::optional<std::string> found;
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t end = mountinfo.find('\n', pos);
    if (end == std::string_view::npos) end = mountinfo.size();
    auto f = split_fields(mountinfo.substr(pos, end - pos), ' ');
    pos = end + 1;
    if (f.size() < 7 || unescape(f[4]) != mountpoint) continue;
    for (size_t i = 6; i + 1 < f.size(); ++i) {
      if (f[i] == "-") {
        if (f[i + 1] == "fuse.bucketfs") found = std::string(f[2]);
        break;
      }
    }
  }
  return found;
}

std::string absolute_path(const std::string& path) {
  char abs[PATH_MAX];
  return ::realpath(path.c_str(), abs) ? std::string(abs) : std::string();
}

int set_mount_readahead(const std::string& mountpoint, unsigned kib) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return ENOENT;
  std::stringstream text;
  text << in.rdbuf();
  auto dev = fuse_mount_device(text.str(), mountpoint);
  if (!dev) return ENOENT;
  std::string path = "/sys/class/bdi/" + *dev + "/read_ahead_kb";
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  std::string value = std::to_string(kib) + "\n";
  return write_full(fd.get(), value.data(), value.size());
}

}  // namespace bucketfs::fusefs
