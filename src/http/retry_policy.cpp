// retry_policy.cpp - see transport.hpp (RetryPolicy).
#include <algorithm>
#include <cmath>

#include "bucketfs/http/transport.hpp"

namespace bucketfs::http {

long RetryPolicy::delay_ms(int retry, double unit_random) const {
  if (retry < 1) retry = 1;
  double d = static_cast<double>(base_ms) * std::ldexp(1.0, std::min(retry - 1, 30));
  d = std::min(d, static_cast<double>(cap_ms));
  unit_random = std::clamp(unit_random, 0.0, 1.0);
  // "Equal jitter": never less than half the step, so retries do spread out.
  return static_cast<long>(d / 2 + unit_random * d / 2);
}

bool RetryPolicy::may_retry(int attempts_made, long elapsed_ms, long next_delay_ms) const {
  if (attempts_made >= max_attempts) return false;
  return elapsed_ms + next_delay_ms <= budget_ms;
}

}  // namespace bucketfs::http
