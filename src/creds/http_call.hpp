// http_call.hpp - one exchange with a credential service (instance metadata,
// container agent, STS), over the http/ layer. Internal to src/creds/.
//
// Credential services are local or close: connections time out after
// connect_timeout_ms and a stalled answer after stall_s seconds. Transport
// failures, 5xx and 429 are retried (`attempts` in all, short backoff); any
// other answer is returned as is for the source to judge.
// Messages never contain a request header (tokens) or a 2xx body (secrets).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bucketfs/http/transport.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::creds::detail {

struct CallLimits {
  long connect_timeout_ms = 2000;
  long stall_s = 5;
  int attempts = 2;
};

class HttpCaller {
 public:
  explicit HttpCaller(CallLimits limits);
  ~HttpCaller();
  // The answer (any status), or "cannot reach URL: why".
  Result<http::Response, std::string> call(const http::Request& req);

 private:
  CallLimits limits_;
  std::unique_ptr<http::Transport> transport_;
};

// An error body cut for a one-line message (at most 160 bytes, one line).
std::string error_excerpt(std::string_view body);

// Percent-encodes a form or query value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view s);

// "k1=v1&k2=v2" with names and values form_encode()d, in the given order; a
// parameter with an empty value (an option not set) is not sent at all.
std::string form_body(const std::vector<std::pair<std::string, std::string>>& params);

// An error line (for results whose value is a string too).
struct Failure {
  std::string message;
};

// Reads a whole small file (a token); an error line naming it otherwise.
// Trailing newlines are dropped.
Result<std::string, Failure> read_token_file(const std::string& path, const std::string& what);

}  // namespace bucketfs::creds::detail
