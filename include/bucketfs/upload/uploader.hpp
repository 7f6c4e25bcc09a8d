// uploader.hpp - turns closed staging files into objects, in parts, with every
// completed part checkpointed, and resumes what a previous run left.
//
// Invariants:
//  - A record is committed to the CheckpointStore before submit() returns, and
//    removed only after the object is confirmed in the bucket (size checked).
//  - Each completed part is committed (one short write transaction) before the
//    part counts as done; after a crash, at most the parts in flight are re-sent.
//  - After cancel(key) returns, no request of that key is in flight and none
//    will start: a new write generation can change the staging file safely, and
//    a mix of two generations is never completed.
//  - The uploader never deletes a staging file itself: on success it calls the
//    done handler, whose owner (fs/) knows whether a newer generation uses it.
// Threads: a fixed pool of `concurrency` workers shared by all files; requests
// of one file run in parallel. Lock order: mu_ before Job::record_mu.
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/object_store.hpp"
#include "bucketfs/upload/part_plan.hpp"

namespace bucketfs::upload {

struct UploaderConfig {
  std::string bucket;
  uint64_t part_size = 8ull << 20;
  unsigned concurrency = 8;
  // A file whose upload fails is retried after a backoff that doubles from
  // retry_base up to retry_cap (transient and permanent errors alike: a
  // fixed credential or a returning server must not need a remount).
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
};

// What the done handler learns.
struct UploadOutcome {
  std::string key;
  uint64_t generation = 0;
  std::string staging_path;
  bool ok = false;
  std::string error;  // when !ok
};

// A pending file as fs/ shows it before it is in the bucket.
struct PendingFile {
  std::string key;
  std::string staging_path;
  uint64_t size = 0;
  uint64_t generation = 0;
  std::map<std::string, std::string> meta;
};

struct ResumeReport {
  size_t resumed = 0;              // records queued again
  size_t failed = 0;               // moved to the failed table (staging missing/changed)
  size_t damaged = 0;              // damaged records found
  size_t damaged_requeued = 0;     // ...of which the staged file was found and re-queued
  size_t unrecorded_requeued = 0;  // closed staged files whose record was missing
  size_t removed = 0;              // never-closed, uploaded or superseded staging files removed
};

// A fresh record for a closed staged file as it is on disk now (key and
// generation from its closed mark, size and mtime from stat), for re-queuing
// it whole; nullopt when the file is gone.
std::optional<checkpoint::UploadRecord> record_for_staged(const stage::StagedEntry& s, const std::string& bucket);

class Uploader {
 public:
  using DoneHandler = std::function<void(const UploadOutcome&)>;

  Uploader(store::ObjectStore& store, checkpoint::CheckpointStore& cp, stage::StagingArea& staging,
           UploaderConfig cfg);
  ~Uploader();  // stop(0)
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Called for every finished upload (success), and for every failed pass.
  // Default: delete the staging file on success. Set before start().
  void set_done_handler(DoneHandler h);

  // Loads the checkpoint records and queues them (staging files checked; the
  // missing or changed go to the failed table). Call before start().
  checkpoint::CpResult<ResumeReport> resume();
  void start();

  // Commits rec (state Pending) durably, then queues it. A job of an older
  // generation of the same key is cancelled first.
  // settle: do not start sending before this much time has passed (the file
  // may still be open: a close of one of several descriptors), unless
  // expedite(key) comes first. The record is durable either way.
  checkpoint::CpResult<void> submit(checkpoint::UploadRecord rec,
                                    std::chrono::milliseconds settle = std::chrono::milliseconds(0));
  // Starts a settling upload of key now (its last writer is gone).
  void expedite(const std::string& key);

  // Stops the upload of key (waits for its requests in flight), aborts its
  // multipart upload in the background. drop_record: also delete its checkpoint
  // record (unlink); otherwise the record stays until the next submit (reopen).
  void cancel(const std::string& key, bool drop_record);

  // Renames a pending upload: the record moves to new_key and the upload
  // restarts there (a multipart upload is bound to its key); true. False when
  // no upload of old_key is in flight, or it completed under old_key while
  // being taken over: what the bucket has of the file is then under old_key
  // (a record waiting for the next commit still moves to new_key).
  checkpoint::CpResult<bool> retarget(const std::string& old_key, const std::string& new_key);

  // Blocks until the upload of key at `generation` (or a newer one) is in the
  // bucket (0), or a pass failed (EIO). 0 when nothing of key is pending.
  int wait(const std::string& key, uint64_t generation);

  // Every queued or running upload.
  std::vector<PendingFile> pending() const;
  bool idle() const;

  // Stops starting requests, waits up to grace for those in flight, joins the
  // workers. Returns false if requests were still in flight at the deadline
  // (their threads are left to the process exit; records stay correct).
  bool stop(std::chrono::milliseconds grace);

 private:
  struct Job;
  struct Task;
  void worker();
  bool next_task(Task* out);  // under mu_
  void run(Task& t);
  void run_put(Job& job);
  void run_create(Job& job);
  void run_reconcile(Job& job);
  void run_part(Job& job, uint32_t number);
  void run_complete(Job& job);
  void finish_ok(const std::shared_ptr<Job>& job);
  void fail_pass(const std::shared_ptr<Job>& job, const std::string& why);
  void persist(Job& job);
  void abort_in_background(const std::string& key, const std::string& upload_id);
  std::shared_ptr<Job> find(const std::string& key) const;  // under mu_

  store::ObjectStore& store_;
  checkpoint::CheckpointStore& cp_;
  stage::StagingArea& staging_;
  UploaderConfig cfg_;
  DoneHandler done_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;                         // a task may be available / stopping
  std::condition_variable idle_cv_;                         // a request finished or a job ended
  std::deque<std::shared_ptr<Job>> jobs_;                   // FIFO: earlier files first
  std::deque<std::pair<std::string, std::string>> aborts_;  // (key, upload id)
  std::map<std::string, uint64_t> done_generation_;         // highest generation confirmed per key
  std::map<std::string, std::pair<uint64_t, std::string>> failed_generation_;
  std::vector<std::thread> workers_;
  unsigned inflight_ = 0;
  bool stopping_ = false;
  bool started_ = false;
};

}  // namespace bucketfs::upload
