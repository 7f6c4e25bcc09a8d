// timestamps.hpp - the expiration times credential services send, and how
// messages show them. Pure functions, UTC.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace bucketfs::creds {

// RFC 3339 / ISO 8601: "2026-12-01T08:32:51Z", with any fraction of a second
// ("...51.712943226Z", dropped), and "+hh:mm" / "-hh:mm" offsets; nullopt for
// anything else (a bare date, no zone, garbage).
std::optional<std::time_t> parse_timestamp(std::string_view s);

// "2026-12-01T08:32:51Z".
std::string format_timestamp(std::time_t t);

}  // namespace bucketfs::creds
