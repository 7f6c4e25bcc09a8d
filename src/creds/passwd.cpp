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

#include "files.hpp"

namespace bucketfs::creds {
namespace {

using detail::trim;
using detail::wipe;

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
  std::string content;
  mode_t mode = 0;
  switch (detail::read_small_file(path, "passwd file", &content, &mode, error)) {
    case detail::FileRead::Missing: return FileOutcome::Missing;
    case detail::FileRead::Error: return FileOutcome::Error;
    case detail::FileRead::Ok: break;
  }
  if (mode & 077) {
    wipe(&content);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    *error = "passwd file " + path + " is accessible by group or others (mode " + octal + "): run `chmod 600 " +
             path + "`";
    return FileOutcome::Error;
  }
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
