// log.cpp - see log.hpp.
#include "bucketfs/util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/private_dir.hpp"

namespace bucketfs::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mu;
Sink g_sink = Sink::Stderr;
int g_fd = 2;
// The log file set_file() opened, if any (g_fd is then its descriptor). Never
// destroyed: a thread may still log while static destructors run at exit.
Fd& g_file = *new Fd;

const char* name(Level l) {
  switch (l) {
    case Level::Error: return "error";
    case Level::Warn: return "warn";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
  }
  return "?";
}
int syslog_priority(Level l) {
  switch (l) {
    case Level::Error: return LOG_ERR;
    case Level::Warn: return LOG_WARNING;
    case Level::Info: return LOG_INFO;
    case Level::Debug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

std::string set_file(const std::string& path) {
  // O_NONBLOCK: a planted FIFO without a reader fails here instead of hanging.
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    const int err = errno;
    struct stat st {};
    // ELOOP, or EACCES where the kernel protects symlinks in sticky dirs.
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return "log file " + path + " is a symlink; give the file itself (bucketfs never follows one)";
    return "cannot open log file " + path + ": " + std::strerror(err);
  }
  if (std::string why = check_private_file(fd.get(), path); !why.empty()) return "log file refused: " + why;
  std::lock_guard lock(g_mu);
  g_file = std::move(fd);
  g_fd = g_file.get();
  g_sink = Sink::File;
  return "";
}

void set_syslog(const char* ident) {
  std::lock_guard lock(g_mu);
  openlog(ident, LOG_PID, LOG_DAEMON);
  g_sink = Sink::Syslog;
}

void set_stderr() {
  std::lock_guard lock(g_mu);
  g_sink = Sink::Stderr;
  g_fd = 2;
}

bool parse_level(const std::string& n, Level* out) {
  if (n == "error" || n == "err" || n == "crit")
    *out = Level::Error;
  else if (n == "warn" || n == "warning")
    *out = Level::Warn;
  else if (n == "info")
    *out = Level::Info;
  else if (n == "debug" || n == "dbg")
    *out = Level::Debug;
  else
    return false;
  return true;
}

namespace {

// Length of the valid UTF-8 sequence at s[i] (0 if there is none), as RFC 3629
// defines it: no overlong forms, no surrogates, nothing above U+10FFFF.
size_t utf8_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto escape = [&](unsigned char b) {
    static const char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  };
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F)
        escape(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = utf8_length(s, i);
    if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) n = 0;  // a C1 control
    if (n == 0) {
      escape(c);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void write(Level l, const std::string& raw) {
  const std::string message = printable(raw);
  std::lock_guard lock(g_mu);
  if (g_sink == Sink::Syslog) {
    syslog(syslog_priority(l), "%s", message.c_str());
    return;
  }
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  struct tm tm;
  localtime_r(&t, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line =
      std::string(stamp) + " bucketfs[" + std::to_string(::getpid()) + "] " + name(l) + ": " + message + "\n";
  ssize_t unused = ::write(g_fd, line.data(), line.size());
  (void)unused;
}

}  // namespace bucketfs::log
