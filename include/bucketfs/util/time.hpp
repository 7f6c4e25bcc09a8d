// time.hpp - the date formats object stores speak. Pure functions, UTC only.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace bucketfs::timefmt {

// "20130524T000000Z" (SigV4 x-amz-date).
std::string amz_date(std::time_t t);
// "20130524" (SigV4 / OSS V4 credential scope date).
std::string short_date(std::time_t t);
// "Fri, 24 May 2013 00:00:00 GMT" (RFC 7231 IMF-fixdate; Date header, V1/V2 signing).
std::string http_date(std::time_t t);
// Parses IMF-fixdate; nullopt if it does not parse.
std::optional<std::time_t> parse_http_date(std::string_view s);
// Parses "2009-10-12T17:50:30.000Z" / "2009-10-12T17:50:30Z"; nullopt if it does not parse.
std::optional<std::time_t> parse_iso8601(std::string_view s);

// The wall clock now (CLOCK_REALTIME), for file times.
struct timespec now_ts();

}  // namespace bucketfs::timefmt
