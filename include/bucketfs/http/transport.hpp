// transport.hpp - HTTP requests over libcurl, with connection reuse.
//
// The Transport keeps a pool of curl easy handles; each perform() takes one
// from the pool (or makes one) and gives it back, so a handle is never used by
// two threads at once and its live connections are reused. No retries here:
// the caller re-signs and retries (RetryPolicy). No curl type leaks out.
// Thread-safety: perform() may be called from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bucketfs/util/result.hpp"

namespace bucketfs::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  Headers headers;
  // Body: a string, or (body_fd >= 0) a file range read with pread as it is sent.
  std::string body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  bool has_body = false;  // PUT/POST with an empty body still sends Content-Length: 0
  // Sees every body byte as it is sent (e.g. MD5 while streaming).
  std::function<void(const char*, size_t)> on_body_chunk;
  // Receives a 2xx response body; unset: collected into Response::body. Error
  // bodies (status >= 300) always go to Response::body. Return false to abort.
  std::function<bool(const char*, size_t)> sink;
  // Called once with the status and headers before the first byte of a 2xx
  // body reaches `sink` (not called when the body is empty); return false to
  // refuse the answer (TransportError::Rejected), e.g. a 200 to a ranged GET.
  std::function<bool(long status, const Headers& headers)> accept;
  // Caps on what is collected into Response::body, so a hostile or broken
  // server cannot make us hold an endless body: over the cap the transfer
  // stops with TransportError::TooLarge.
  uint64_t max_body = 16u << 20;        // a 2xx body without a sink (a listing page)
  uint64_t max_error_body = 64u << 10;  // a body with status >= 300
  // The whole attempt, connect to last byte; 0: no limit beyond the
  // low-speed limit. A server that trickles just above the low-speed limit
  // is stopped by this.
  long timeout_ms = 0;
};

struct Response {
  long status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  // First header with this (lower-case) name, or "".
  std::string header(const std::string& lower_name) const;
};

struct TransportError {
  enum Kind { Connect, Resolve, Timeout, Reset, Tls, LocalIo, Cancelled, TooLarge, Rejected, Other };
  Kind kind = Other;
  std::string message;  // curl's error text; never contains request headers
  long status = 0;      // the answer's status when one had begun (TooLarge, Rejected), else 0
};

struct TransportOptions {
  long connect_timeout_ms = 5000;
  long low_speed_limit = 1024;  // bytes/s ...
  long low_speed_time_s = 30;   // ... for this long: the attempt times out
  bool verify_tls = true;
  std::string ca_file;
  std::string user_agent = "bucketfs";
};

class Transport {
 public:
  explicit Transport(TransportOptions opts);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  Result<Response, TransportError> perform(const Request& req);

 private:
  struct Handle;
  std::unique_ptr<Handle> acquire();
  void release(std::unique_ptr<Handle> h);

  TransportOptions opts_;
  std::mutex mu_;  // guards pool_ only; never held during a transfer
  std::vector<std::unique_ptr<Handle>> pool_;
};

// Capped exponential backoff with equal jitter (half the step fixed, half
// random), and a total time budget.
struct RetryPolicy {
  int max_attempts = 6;
  long base_ms = 100;
  long cap_ms = 5000;
  long budget_ms = 120000;

  // Delay before retry number `retry` (1 = first retry), given a uniform
  // random number in [0,1): uniform in [d/2, d] where d = min(cap, base*2^(retry-1)).
  long delay_ms(int retry, double unit_random) const;
  // Whether another attempt may start: attempts made so far and time spent.
  bool may_retry(int attempts_made, long elapsed_ms, long next_delay_ms) const;
};

}  // namespace bucketfs::http
