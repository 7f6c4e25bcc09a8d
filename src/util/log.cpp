// log.cpp - see log.hpp.
#include "bucketfs/util/log.hpp"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace bucketfs::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mu;
Sink g_sink = Sink::Stderr;
int g_fd = 2;

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

bool set_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::lock_guard lock(g_mu);
  if (g_sink == Sink::File && g_fd > 2) ::close(g_fd);
  g_fd = fd;
  g_sink = Sink::File;
  return true;
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

void write(Level l, const std::string& message) {
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
