// time.cpp - see time.hpp.
#include "bucketfs/util/time.hpp"

#include <cstdio>
#include <cstring>

namespace bucketfs::timefmt {
namespace {
std::string fmt(std::time_t t, const char* f) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, f, &tm);
  return std::string(buf, n);
}
}  // namespace

std::string amz_date(std::time_t t) { return fmt(t, "%Y%m%dT%H%M%SZ"); }
std::string short_date(std::time_t t) { return fmt(t, "%Y%m%d"); }

std::string http_date(std::time_t t) {
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  std::string str(s);
  struct tm tm;
  std::memset(&tm, 0, sizeof tm);
  const char* end = strptime(str.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  return timegm(&tm);
}

std::optional<std::time_t> parse_iso8601(std::string_view s) {
  std::string str(s);
  struct tm tm;
  std::memset(&tm, 0, sizeof tm);
  const char* end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  return timegm(&tm);
}

struct timespec now_ts() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace bucketfs::timefmt
