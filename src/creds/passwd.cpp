// passwd.cpp - s3fs passwd-file parsing and the permission check (see passwd.hpp).
//
// The secret is only ever moved into a Secret; no message built here contains
// any part of a passwd line, so a malformed line cannot leak what it holds.
#include "bucketfs/creds/passwd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace bucketfs::creds {
namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(trim(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start)));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

// Overwrites a buffer that held a secret before it is freed.
void wipe(std::string* s) {
  volatile char* p = s->data();
  for (size_t i = 0; i < s->size(); ++i) p[i] = 0;
}

sign::Credentials make(std::string_view access, std::string_view secret) {
  sign::Credentials c;
  c.access_key_id = std::string(access);
  c.secret = Secret(std::string(secret));
  return c;
}

enum class ParseOutcome { Found, NoMatch, Malformed };

// The s3fs format. A bucket line wins at once; otherwise the first generic
// line. Messages name the line number, never its content.
ParseOutcome parse_lines(const std::string& content, const std::string& bucket, sign::Credentials* out,
                         std::string* error) {
  std::optional<sign::Credentials> generic;
  size_t line_no = 0;
  size_t start = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string_view line = trim(std::string_view(content).substr(start, end - start));
    start = end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;

    std::vector<std::string_view> f = split(line, ':');
    bool ok = f.size() == 2 || f.size() == 3;
    for (std::string_view field : f)
      ok = ok && !field.empty() && field.find_first_of(" \t") == std::string_view::npos;
    if (!ok) {
      *error = "line " + std::to_string(line_no) +
               ": malformed (expected ACCESS:SECRET or BUCKET:ACCESS:SECRET, no spaces inside a field)";
      return ParseOutcome::Malformed;
    }
    if (f.size() == 3) {
      if (f[0] == bucket) {
        *out = make(f[1], f[2]);
        return ParseOutcome::Found;
      }
    } else if (!generic) {
      generic = make(f[0], f[1]);
    }
  }
  if (generic) {
    *out = std::move(*generic);
    return ParseOutcome::Found;
  }
  *error = "no line for bucket " + bucket + " (expected ACCESS:SECRET or " + bucket + ":ACCESS:SECRET)";
  return ParseOutcome::NoMatch;
}

// Why a passwd file gave no credentials: a problem to report, or merely no
// line for this bucket (then the next default file may still have one).
enum class FileOutcome { Found, Error, NoMatch, Missing };

FileOutcome read_passwd_file(const std::string& path, const std::string& bucket, sign::Credentials* out,
                             std::string* error) {
  // open + fstat rather than stat + open: the mode checked is that of the file
  // read. O_NONBLOCK so that a FIFO given by mistake cannot hang the mount.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    *error = "cannot open passwd file " + path + ": " + std::strerror(e);
    return e == ENOENT ? FileOutcome::Missing : FileOutcome::Error;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *error = "passwd file " + path + " is not a regular file";
    return FileOutcome::Error;
  }
  if (st.st_mode & 077) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *error = "passwd file " + path + " is accessible by group or others (mode " + mode + "): run `chmod 600 " +
             path + "`";
    return FileOutcome::Error;
  }
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size) + 1);  // no reallocation leaving copies behind
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      wipe(&content);
      *error = "cannot read passwd file " + path + ": " + std::strerror(e);
      return FileOutcome::Error;
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  std::memset(buf, 0, sizeof buf);

  ParseOutcome parsed = parse_lines(content, bucket, out, error);
  wipe(&content);
  switch (parsed) {
    case ParseOutcome::Found: return FileOutcome::Found;
    case ParseOutcome::NoMatch: *error = "passwd file " + path + ": " + *error; return FileOutcome::NoMatch;
    case ParseOutcome::Malformed: break;
  }
  *error = "passwd file " + path + ": " + *error;
  return FileOutcome::Error;
}

}  // namespace

Result<sign::Credentials, std::string> parse_passwd(const std::string& content, const std::string& bucket) {
  sign::Credentials c;
  std::string error;
  if (parse_lines(content, bucket, &c, &error) == ParseOutcome::Found) return c;
  return error;
}

Result<sign::Credentials, std::string> load_passwd_file(const std::string& path, const std::string& bucket) {
  sign::Credentials c;
  std::string error;
  if (read_passwd_file(path, bucket, &c, &error) == FileOutcome::Found) return c;
  return error;
}

std::vector<std::string> default_passwd_files(const EnvLookup& env) {
  std::vector<std::string> out;
  std::string home = env_value(env, "HOME");
  if (!home.empty()) {
    out.push_back(home + "/.passwd-bucketfs");
    out.push_back(home + "/.passwd-s3fs");
  }
  out.push_back("/etc/passwd-bucketfs");
  out.push_back("/etc/passwd-s3fs");
  return out;
}

PasswdLookup find_default_passwd(const std::string& bucket, const EnvLookup& env, sign::Credentials* out,
                                 std::string* path, std::string* error) {
  for (const std::string& p : default_passwd_files(env)) {
    switch (read_passwd_file(p, bucket, out, error)) {
      case FileOutcome::Found: *path = p; return PasswdLookup::Found;
      case FileOutcome::Error: return PasswdLookup::Error;
      case FileOutcome::NoMatch:
      case FileOutcome::Missing: break;
    }
  }
  return PasswdLookup::NotFound;
}

}  // namespace bucketfs::creds
