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

// s read with strptime's format as a UTC time; what follows the format
// (fractional seconds, a zone letter) is ignored.
std::optional<std::time_t> parse_utc(std::string_view s, const char* format) {
  std::string str(s);
  struct tm tm;
  std::memset(&tm, 0, sizeof tm);
  if (strptime(str.c_str(), format, &tm) == nullptr) return std::nullopt;
  return timegm(&tm);
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
  return parse_utc(s, "%a, %d %b %Y %H:%M:%S GMT");
}

std::optional<std::time_t> parse_iso8601(std::string_view s) { return parse_utc(s, "%Y-%m-%dT%H:%M:%S"); }

struct timespec now_ts() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace bucketfs::timefmt
