// timestamps.cpp - see timestamps.hpp.
#include "bucketfs/creds/timestamps.hpp"

#include <cstring>

namespace bucketfs::creds {

namespace {

// Reads exactly n digits at s[*pos]; false otherwise.
bool digits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || (s[*pos] != c && !(c == 'T' && (s[*pos] == 't' || s[*pos] == ' ')))) return false;
  ++*pos;
  return true;
}

}  // namespace

std::optional<std::time_t> parse_timestamp(std::string_view s) {
  size_t pos = 0;
  int year, mon, day, hour, min, sec;
  if (!digits(s, &pos, 4, &year) || !expect(s, &pos, '-') || !digits(s, &pos, 2, &mon) || !expect(s, &pos, '-') ||
      !digits(s, &pos, 2, &day) || !expect(s, &pos, 'T') || !digits(s, &pos, 2, &hour) || !expect(s, &pos, ':') ||
      !digits(s, &pos, 2, &min) || !expect(s, &pos, ':') || !digits(s, &pos, 2, &sec))
    return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return std::nullopt;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!digits(s, &pos, 2, &oh) || !expect(s, &pos, ':') || !digits(s, &pos, 2, &om)) return std::nullopt;
    offset = sign * (oh * 3600L + om * 60L);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  struct tm tm;
  std::memset(&tm, 0, sizeof tm);
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return timegm(&tm) - offset;
}

std::string format_timestamp(std::time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace bucketfs::creds
