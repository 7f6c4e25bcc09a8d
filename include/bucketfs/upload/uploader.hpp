// uploader.hpp - turns closed staging files into objects, in parts, with every
// completed part checkpointed, and resumes what a previous run left.
//
// Invariants:
//  - One key has at most one upload job, of its newest generation: submit()
//    replaces (cancels) a job of an older generation of the key and ignores
//    an older generation than the one queued.
//  - The caller has made the file's closed mark durable before submit()
//    (StagingArea::mark_closed); the mark, not a checkpoint record, is what a
//    crash keeps. A record is written once there is progress to keep: an
//    upload id (synced before the first part is sent, so an upload we started
//    is never forgotten) and each completed part (one short transaction).
//  - A multipart upload that nothing will complete (cancelled, superseded,
//    stale after a crash) is queued for abort in the same transaction that
//    forgets it, and aborted in the background; the queue survives a crash.
//  - After cancel(key) returns, no request of that key is in flight and none
//    will start: a new write generation can change the staging file safely, and
//    a mix of two generations is never completed.
//  - Once the object is confirmed in the bucket the mark is dropped durably
//    (StagingArea::drop_mark, which also makes earlier removals of older
//    generations durable), then the record goes, then the done handler runs.
//    The uploader never deletes a staging file of a live upload itself: the
//    done handler's owner (fs/) knows whether a newer generation uses it.
// Threads: a fixed pool of `concurrency` workers shared by all files; requests
// of one file run in parallel.
// Lock order (util/ranked_mutex.hpp, checked in the sanitizer builds):
// callers' locks (the filesystem's Pending::mu around submit/cancel), then
// Job::record_mu (UploadRecord), then mu_ (UploadQueue). A checkpoint write
// takes the job's record_mu, then mu_ briefly to copy the record. The done
// handler is called with record_mu held and mu_ free; it may take only locks
// ranked above UploadRecord (the filesystem's registry and leaves) and must
// not call back into the Uploader.
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
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
#include "bucketfs/upload/recovery.hpp"
#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::upload {

struct UploaderConfig {
  std::string bucket;
  std::string prefix;                // the mount's key prefix: recovery uploads no key outside it
  uint64_t part_size = 16ull << 20;  // the mount's default (option part_size)
  unsigned concurrency = 8;
  // A file whose upload fails is retried after a backoff that doubles from
  // retry_base up to retry_cap (transient and permanent errors alike: a
  // fixed credential or a returning server must not need a remount).
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  // Where `bucketfs retry` leaves its request for a running mount (one key
  // per line, "*" for all); read and removed by the uploader. "": none.
  std::string retry_request_file;
  // Upload while writing (open_stream): a file that grows by appends has
  // each finished part sent before it is closed. Off: parts go after close.
  bool stream_uploads = true;
  // Parts of one file in flight at once while it is still open (after close:
  // up to `concurrency`); 0: up to `concurrency` too. See Uploader::next_task.
  unsigned stream_concurrency = 0;
};

// What the write path hands submit() when the closed file was streamed
// (open_stream): the stream, and each part's write version at close (index
// part - 1, parts of stream_part_size()). A part sent while the file was open
// is kept only if its version then equals its version at close.
struct StreamHandoff {
  uint64_t stream = 0;
  std::vector<uint64_t> versions;
};

// What the done handler learns.
struct UploadOutcome {
  std::string key;
  uint64_t generation = 0;
  std::string staging_path;
  bool ok = false;
  std::string error;  // when !ok
};

struct ResumeReport {
  size_t resumed = 0;        // closed files queued again (with or without progress)
  size_t with_progress = 0;  // ...of which a record kept the parts already sent
  size_t failed = 0;         // new failed-table entries (mark damaged, file changed, key outside the prefix)
  size_t removed = 0;        // never-closed, confirmed or superseded staging files removed
  size_t stale = 0;          // records that described no closed file, dropped
  size_t damaged = 0;        // damaged records dropped (their files are queued from their marks)
  size_t aborts = 0;         // multipart uploads queued for abort
};

// What cancel() found.
enum class CancelResult {
  None,       // no upload of the key was queued
  Cancelled,  // stopped before its object was complete
  Completed,  // it completed (and was confirmed) while being cancelled
};

class Uploader {
 public:
  using DoneHandler = std::function<void(const UploadOutcome&)>;

  Uploader(store::ObjectStore& store, checkpoint::CheckpointStore& cp, stage::StagingArea& staging,
           UploaderConfig cfg);
  ~Uploader();  // stop() with an unbounded grace: joins every worker
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Called for every confirmed upload (after its mark is dropped and its
  // record removed) and for every failed pass. Default: remove the staging
  // file on success. Set before start().
  void set_done_handler(DoneHandler h);

  // Applies the recovery policy (recovery.hpp) to the staging area and the
  // checkpoint store and queues what is to be uploaded. Call before start().
  checkpoint::CpResult<ResumeReport> resume();
  void start();

  // Queues a closed file whose mark is durable. settle: do not start sending
  // before this much time has passed (the file may still be open: a close of
  // one of several descriptors), unless expedite(key) comes first.
  // Errors: the staging file cannot be opened (Io), a checkpoint write failed.
  // With a handoff whose stream is still the key's (open_stream), the
  // stream's multipart upload becomes this file's: its parts whose version is
  // unchanged are kept, the others are sent again from the closed file.
  // Otherwise (no stream, or one that cannot be adopted) the stream is
  // cancelled like any older job of the key.
  checkpoint::CpResult<void> submit(ClosedFile file,
                                    std::chrono::milliseconds settle = std::chrono::milliseconds(0),
                                    const StreamHandoff* handoff = nullptr);

  // Upload while writing. open_stream starts a multipart upload of key from
  // the staging file of a file still open for writing, and returns its id (0:
  // not now — streaming is off, the key has a job, or the file cannot be
  // opened). stream_part queues part `number` (1-based, parts of
  // stream_part_size()) whose bytes the writer has finished, at the write
  // version it has now. A stream is never completed by itself: submit() with
  // its handoff adopts it, drop_stream() (or cancel(key)) aborts it. Its record
  // (generation 0) describes no closed file, so a crash before adoption drops
  // it and aborts its upload at the next mount. A failed request ends the
  // stream (aborted); the file is then uploaded after close as usual.
  // `meta` is the object metadata the file has now, which the upload carries;
  // adoption needs the closed file to have the same but for the times
  // ("mtime", "atime", "ctime"), and once the object is complete its
  // metadata is set to the closed file's (a copy onto itself) if it differs.
  uint64_t open_stream(const std::string& key, const std::string& staging_path, const store::Metadata& meta);
  void stream_part(const std::string& key, uint64_t stream, uint32_t number, uint64_t version);
  void drop_stream(const std::string& key, uint64_t stream);
  uint64_t stream_part_size() const;
  // Starts a settling upload of key now (its last writer is gone).
  void expedite(const std::string& key);

  // Stops the upload of key: waits for its requests in flight, drops its
  // record and queues the abort of its multipart upload.
  CancelResult cancel(const std::string& key);

  // Blocks until the upload of key at `generation` (or a newer one) is in the
  // bucket (0), or a pass failed (EIO). 0 when nothing of key is pending.
  int wait(const std::string& key, uint64_t generation);

  // Every queued or running upload.
  std::vector<ClosedFile> pending() const;
  // Makes every change to the staging directory and every checkpoint commit
  // so far durable (fsync of a directory in the mount). 0 or errno.
  int sync_state();
  bool idle() const;

  // Stops starting requests, waits up to grace for those in flight, joins the
  // workers. Returns false if requests were still in flight at the deadline
  // (their threads are detached and left to the process exit; records stay
  // correct).
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
  void reconcile_lost_upload(Job& job, bool completed_before);  // under mu_
  std::vector<checkpoint::PartRecord> parts_to_keep(Job& job, const std::vector<checkpoint::PartRecord>& recorded,
                                                    const std::map<int, store::PartInfo>& server);
  void run_part(Job& job, const Task& t);
  // The MD5 (hex) of the task's part, when the store wants one: hashed
  // before by another part's worker, or now, together with the job's other
  // parts that wait for a connection (crypto::md5_file_spans hashes eight in
  // about the time of two). "" when the store wants none or the range
  // could not be read (upload_part then computes or reports it).
  std::string presum(Job& job, const Task& t);
  bool adopt(const ClosedFile& file, std::chrono::milliseconds settle, const StreamHandoff& h);
  void end_stream(const std::shared_ptr<Job>& job);  // a failed stream: dropped, its upload aborted
  void run_complete(Job& job);
  void finish_ok(const std::shared_ptr<Job>& job);
  // A request of the job's pass failed: the pass drains, then counts
  // against the budget of its class (store::default_budget); a spent budget
  // moves the upload to the failed table (see record_failure).
  void fail_pass(const std::shared_ptr<Job>& job, const std::string& why,
                 store::ErrorClass cls = store::ErrorClass::Transient);
  void fail_pass(const std::shared_ptr<Job>& job, const std::string& what, const store::Error& e);
  // Jobs whose budget is spent wait, parked, until `bucketfs retry` moves
  // their record back from the failed table; checked every few seconds.
  void unpark_retried();
  void record_failure(const std::shared_ptr<Job>& job);
  // Writes the job's record (and syncs the store if asked); false if it is not stored.
  bool persist(Job& job, bool sync = false);
  // A sent part's progress: written by whichever worker holds the job's
  // record_mu, never waited for (see uploader.cpp).
  void record_progress(Job& job);
  // Writes the job's record while progress is marked unwritten; record_mu held.
  void write_progress(Job& job);
  std::shared_ptr<Job> make_job(ClosedFile file, std::optional<checkpoint::UploadRecord> progress,
                                checkpoint::StoreError* err);
  // Drops records that describe no closed file, their uploads aborted.
  checkpoint::CpResult<void> drop_stale(const std::vector<checkpoint::UploadRecord>& stale, ResumeReport* report);
  void enqueue(std::shared_ptr<Job> job);                   // under mu_
  std::shared_ptr<Job> find(const std::string& key) const;  // under mu_
  bool is_current(const Job& job) const;                    // under mu_: still the key's job

  store::ObjectStore& store_;
  checkpoint::CheckpointStore& cp_;
  stage::StagingArea& staging_;
  UploaderConfig cfg_;
  DoneHandler done_;

  mutable RankedMutex mu_{LockRank::UploadQueue};
  std::condition_variable_any work_cv_;               // a task may be available / stopping
  std::condition_variable_any idle_cv_;               // a request finished or a job ended
  std::condition_variable_any presum_cv_;             // a worker finished hashing parts ahead
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // by key: at most one each
  std::list<std::shared_ptr<Job>> order_;             // FIFO: earlier files first
  std::deque<checkpoint::PendingAbort> aborts_;       // queued in the store too
  std::map<std::string, uint64_t> done_generation_;   // highest generation confirmed per key
  std::map<std::string, std::pair<uint64_t, std::string>> failed_generation_;
  std::chrono::steady_clock::time_point next_unpark_check_{};  // when unpark_retried runs next
  std::vector<std::thread> workers_;
  unsigned inflight_ = 0;
  uint64_t next_stream_ = 1;
  bool stopping_ = false;
  bool started_ = false;
};

}  // namespace bucketfs::upload
