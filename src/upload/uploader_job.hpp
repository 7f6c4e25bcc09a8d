// uploader_job.hpp - (internal to src/upload) one file's upload and one
// worker task, shared by uploader.cpp (scheduling) and upload_steps.cpp (the
// requests).
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bucketfs/upload/uploader.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::upload {

using Clock = std::chrono::steady_clock;

struct Uploader::Job {
  enum class Phase { Put, Reconcile, Create, Parts, Complete, Done };
  // What is uploaded (its mark is durable). A stream's (stream != 0) has only
  // the key and the staging path until submit() adopts it (under mu_).
  ClosedFile file;
  checkpoint::UploadRecord rec;  // progress; fields guarded by mu_
  PartPlan plan;
  Phase phase = Phase::Put;
  std::set<uint32_t> inflight_parts;
  unsigned inflight = 0;     // requests of this job in flight
  bool busy_single = false;  // a put/create/reconcile/complete is in flight
  bool cancelled = false;
  bool landed = false;          // the object is complete in the bucket (seen by finish_ok)
  bool recorded = false;        // a record of this job is in the checkpoint store
  bool progress_dirty = false;  // sent parts wait for their record (Uploader::record_progress)
  bool failing = false;         // a request failed; drain, then record the failure
  std::string fail_reason;
  store::ErrorClass fail_class = store::ErrorClass::Transient;
  std::map<store::ErrorClass, int> passes;  // failed passes per class since the last success or retry
  bool parked = false;                      // budget spent: in the failed table until `bucketfs retry`
  bool resumed = false;
  bool completed_elsewhere = false;  // resume found the object already completed
  // A previous run sent CreateMultipartUpload at this time and crashed before
  // it recorded the answer: uploads of the key begun since are swept first.
  std::time_t lost_since = 0;
  Clock::time_point not_before{};
  Clock::time_point started = Clock::now();
  // Upload while writing (Uploader::open_stream), under mu_.
  uint64_t stream = 0;                        // != 0: the file is still open; never completed
  std::map<uint32_t, uint64_t> stream_ready;  // finished parts to send, with their write version
  std::map<uint32_t, uint64_t> sent_version;  // parts sent (or in flight) while streaming
  std::vector<uint64_t> close_versions;       // after adoption: each part's version at close
  bool adopted = false;                       // a stream that became a closed file's upload

  // MD5s of parts hashed ahead of their send (Uploader::presum), under mu_.
  // A part's entry holds only for the same range at the same bytes_version.
  struct Presum {
    uint64_t offset = 0, length = 0, version = 0;
    std::string md5;  // hex
  };
  std::map<uint32_t, Presum> presums;
  std::set<uint32_t> presumming;  // being hashed now by some worker

  Fd fd;                                          // staging file, read-only
  RankedMutex record_mu{LockRank::UploadRecord};  // serialises checkpoint writes of this job (before mu_)

  explicit Job(ClosedFile f) : file(std::move(f)) {}
  const std::string& key() const { return file.mark.key; }
  uint64_t generation() const { return file.mark.generation; }  // under mu_ (a stream's changes)
  // Whether a part sent while streaming still holds the closed bytes.
  bool sent_part_valid(uint32_t n, uint64_t version) const {
    return n >= 1 && n <= close_versions.size() && close_versions[n - 1] == version;
  }
  // Which bytes part n holds when sent now: a write version while the file
  // is open, its version at close once adopted; a closed file never changes.
  uint64_t bytes_version(uint32_t n, bool streamed, uint64_t task_version) const {
    if (streamed) return task_version;
    if (adopted) return n >= 1 && n <= close_versions.size() ? close_versions[n - 1] : ~uint64_t{0};
    return 0;
  }
  bool part_done(uint32_t n) const {
    return std::any_of(rec.parts.begin(), rec.parts.end(),
                       [n](const auto& p) { return p.number == static_cast<int>(n); });
  }
};

struct Uploader::Task {
  enum class Kind { Put, Reconcile, Create, Part, Complete, Abort } kind = Kind::Put;
  std::shared_ptr<Job> job;
  uint32_t part = 0;
  uint64_t offset = 0, length = 0;  // Part: the bytes of the staging file
  bool streamed = false;            // Part: sent while the file was open...
  uint64_t version = 0;             // ...at this write version
  checkpoint::PendingAbort abort;   // Abort
};

std::string fmt_bytes(uint64_t b);

// Aborts the multipart uploads of exactly `key` begun since `since` (a
// minute's leeway for the clocks): uploads a crash left before their id was
// recorded. False if the server could not be asked (a server without
// ListMultipartUploads counts as done: nothing can be found there).
bool sweep_lost_creates(store::ObjectStore& store, const std::string& key, std::time_t since);

}  // namespace bucketfs::upload
