// http_call.hpp - what the HttpObjectStore source files share: the Call (one
// logical request, which execute() turns into signed attempts) and small
// answer-parsing helpers. Not a public header: only src/store/http_*.cpp
// include it.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bucketfs/http/transport.hpp"
#include "bucketfs/store/http_object_store.hpp"

namespace bucketfs::store {

struct HttpObjectStore::Call {
  const char* op = "";
  std::string method = "GET";
  std::string key;  // empty: the bucket itself
  std::vector<sign::QueryParam> query;
  http::Headers headers;  // lower-case names; signed
  std::string body;
  bool has_body = false;
  FileRange file;  // file.fd >= 0: stream this
  std::function<void(const char*, size_t)> on_body_chunk;
  std::function<void()> before_attempt;  // reset per-attempt state (digests, counters)
  std::function<bool(const char*, size_t)> sink;
  // Looks at a 2xx answer before its body reaches the sink; false refuses
  // it, and `refused` (set by the callback) is the error returned.
  std::function<bool(long status, const http::Headers&)> accept;
  Error refused;
  uint64_t max_body = 16u << 20;  // cap on a 2xx body collected without a sink
  uint64_t expected_bytes = 0;    // bytes the answer or body should carry, for the attempt's time limit
  bool no_time_limit = false;     // a transfer of unknown size: only the low-speed limit applies
  int transport_failures = 0;     // attempts that broke off: the server may have acted on them
};

namespace detail {

inline std::string strip_quotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A length as servers send it (Content-Length, Size): decimal digits only,
// fitting in 63 bits. "-1", "1e3", " 5" and overflowing values are refused.
inline std::optional<uint64_t> parse_length(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > (uint64_t{1} << 63)) return std::nullopt;
  return v;
}

// First header with this lower-case name in a header list, or "".
inline std::string header_of(const http::Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

}  // namespace detail
}  // namespace bucketfs::store
