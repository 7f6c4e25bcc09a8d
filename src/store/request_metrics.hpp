// request_metrics.hpp - what HttpObjectStore counts of each attempt, in the
// metrics registry (names and meanings in the man page, METRICS). Internal to
// src/store/. Each function is a no-op with a null registry. Thread-safe.
#pragma once

#include <cstdint>

#include "bucketfs/util/metrics.hpp"

namespace bucketfs::store {

struct Attempt {
  const char* op;       // "upload_part", "head", ...
  const char* outcome;  // "ok" or the error's name
  double seconds;       // from sending to the answer; 0: nothing was sent
  uint64_t body_bytes;  // file data the attempt carried (0: none)
  bool resent;          // an attempt after the first: its body goes again
};

void count_attempt(metrics::Registry* m, const Attempt& a);
void count_retry(metrics::Registry* m, const char* op, const char* reason);

}  // namespace bucketfs::store
