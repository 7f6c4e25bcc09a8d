// request_metrics.cpp - see request_metrics.hpp.
#include "request_metrics.hpp"

#include <string_view>

namespace bucketfs::store {

void count_attempt(metrics::Registry* m, const Attempt& a) {
  if (m == nullptr) return;
  m->counter("bucketfs_requests_total", "Requests sent to the object store, by operation and outcome",
             {{"op", a.op}, {"outcome", a.outcome}})
      .inc();
  if (a.seconds <= 0) return;
  m->histogram("bucketfs_request_duration_seconds", "Time from sending a request to its answer", {{"op", a.op}},
               metrics::latency_buckets())
      .observe(a.seconds);
  if (a.body_bytes == 0) return;
  const bool part = std::string_view(a.op) == "upload_part";
  if (a.resent) {
    m->counter("bucketfs_upload_bytes_resent_total", "Bytes of file data sent again by a retried request")
        .inc(a.body_bytes);
    if (part) m->counter("bucketfs_upload_parts_resent_total", "Parts sent again by a retried request").inc();
  }
  if (std::string_view(a.outcome) == "ok") {
    m->counter("bucketfs_upload_bytes_total", "Bytes of file data the object store accepted").inc(a.body_bytes);
    if (part) m->counter("bucketfs_upload_parts_total", "Parts the object store accepted").inc();
  }
}

void count_retry(metrics::Registry* m, const char* op, const char* reason) {
  if (m == nullptr) return;
  m->counter("bucketfs_retries_total", "Requests sent again, by operation and the error that caused it",
             {{"op", op}, {"reason", reason}})
      .inc();
}

}  // namespace bucketfs::store
