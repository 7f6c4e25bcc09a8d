// files.cpp - see files.hpp.
#include "files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/secret.hpp"

namespace bucketfs::creds::detail {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

void wipe(std::string* s) { secure_wipe(*s); }

FileRead read_small_file(const std::string& path, const std::string& what, std::string* out, mode_t* mode,
                         std::string* error) {
  constexpr size_t kLimit = 1 << 20;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    int e = errno;
    *error = "cannot open " + what + " " + path + ": " + std::strerror(e);
    return e == ENOENT || e == ENOTDIR ? FileRead::Missing : FileRead::Error;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = what + " " + path + " is not a regular file";
    return FileRead::Error;
  }
  if (mode != nullptr) *mode = st.st_mode;
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size) + 1);  // no reallocation leaving copies behind
  char buf[4096];
  FileRead result = FileRead::Ok;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "cannot read " + what + " " + path + ": " + std::strerror(errno);
      result = FileRead::Error;
      break;
    }
    if (n == 0) break;
    if (content.size() + static_cast<size_t>(n) > kLimit) {
      *error = what + " " + path + " is larger than 1 MiB; is it the right file?";
      result = FileRead::Error;
      break;
    }
    content.append(buf, static_cast<size_t>(n));
  }
  fd.reset();
  secure_wipe(buf, sizeof buf);
  if (result != FileRead::Ok) {
    wipe(&content);
    return result;
  }
  *out = std::move(content);
  return FileRead::Ok;
}

}  // namespace bucketfs::creds::detail
