// uploader.cpp - see uploader.hpp for the invariants.
//
// A Job is one file's upload. Workers pick the next request from the first job
// that has one (FIFO across files, parts of a file in parallel), run it without
// holding mu_, then record the result. A failed pass waits until the job's
// requests in flight have drained, records the failure, and schedules a retry.
#include "bucketfs/upload/uploader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "bucketfs/sign/crypto.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::upload {

using checkpoint::UploadRecord;
using checkpoint::UploadState;
using Clock = std::chrono::steady_clock;

struct Uploader::Job {
  enum class Phase { Put, Reconcile, Create, Parts, Complete, Done };
  UploadRecord rec;  // fields guarded by mu_
  PartPlan plan;
  Phase phase = Phase::Put;
  std::set<uint32_t> inflight_parts;
  unsigned inflight = 0;     // requests of this job in flight
  bool busy_single = false;  // a put/create/reconcile/complete is in flight
  bool cancelled = false;
  bool failing = false;  // a request failed; drain, then record the failure
  std::string fail_reason;
  bool resumed = false;
  bool completed_elsewhere = false;  // resume found the object already completed
  Clock::time_point not_before{};
  Clock::time_point started = Clock::now();
  int fd = -1;           // staging file, read-only; closed when the job ends
  std::mutex record_mu;  // serialises checkpoint writes of this job (taken before mu_)

  bool part_done(uint32_t n) const {
    return std::any_of(rec.parts.begin(), rec.parts.end(),
                       [n](const auto& p) { return p.number == static_cast<int>(n); });
  }
  ~Job() {
    if (fd >= 0) ::close(fd);
  }
};

struct Uploader::Task {
  enum class Kind { Put, Reconcile, Create, Part, Complete, Abort } kind = Kind::Put;
  std::shared_ptr<Job> job;
  uint32_t part = 0;
  std::string key, upload_id;  // Abort
};

namespace {

store::PutOptions put_options(const UploadRecord& r) {
  store::PutOptions o;
  o.meta = r.meta;
  o.content_type = r.content_type;
  return o;
}

// Whether key already holds the multipart object these parts make: the same
// size and the ETag S3-compatible stores give a multipart object, the MD5 of
// the parts' MD5s with "-N" (so an older object of the same size and part
// count is not mistaken for ours). False when a part's MD5 is unknown.
template <class Parts>
bool object_matches(store::ObjectStore& store, const std::string& key, uint64_t size, const Parts& parts,
                    uint32_t count) {
  if (parts.size() != count || count == 0) return false;
  std::string digests;
  for (const auto& p : parts) {
    if (p.md5.size() != 32) return false;
    for (size_t i = 0; i < 32; i += 2) digests += static_cast<char>(std::stoi(p.md5.substr(i, 2), nullptr, 16));
  }
  std::string expected = crypto::hex(crypto::md5(digests)) + "-" + std::to_string(count);
  auto h = store.head(key);
  return h && h->size == size && h->etag == expected;
}

std::string fmt_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1ull << 20));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

}  // namespace

std::optional<UploadRecord> record_for_staged(const stage::StagedEntry& s, const std::string& bucket) {
  struct stat st;
  if (s.key.empty() || ::stat(s.path.c_str(), &st) != 0) return std::nullopt;
  UploadRecord rec;
  rec.key = s.key;
  rec.bucket = bucket;
  rec.staging_path = s.path;
  rec.size = static_cast<uint64_t>(st.st_size);
  rec.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  rec.generation = s.generation;
  rec.created = rec.updated = std::time(nullptr);
  return rec;
}

Uploader::Uploader(store::ObjectStore& store, checkpoint::CheckpointStore& cp, stage::StagingArea& staging,
                   UploaderConfig cfg)
    : store_(store), cp_(cp), staging_(staging), cfg_(std::move(cfg)) {
  if (cfg_.concurrency == 0) cfg_.concurrency = 1;
  done_ = [this](const UploadOutcome& o) {
    if (o.ok) staging_.remove(o.staging_path);
  };
}

Uploader::~Uploader() { stop(std::chrono::hours(24 * 365)); }

void Uploader::set_done_handler(DoneHandler h) { done_ = std::move(h); }

std::shared_ptr<Uploader::Job> Uploader::find(const std::string& key) const {
  for (const auto& j : jobs_)
    if (j->rec.key == key) return j;
  return nullptr;
}

void Uploader::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  for (unsigned i = 0; i < cfg_.concurrency; ++i) workers_.emplace_back([this] { worker(); });
}

checkpoint::CpResult<ResumeReport> Uploader::resume() {
  ResumeReport report;
  auto loaded = cp_.load_all();
  if (!loaded) return loaded.error();
  bool can_list = store_.capabilities().list_parts;

  auto enqueue = [&](UploadRecord rec, bool resumed) -> bool {
    int fd = ::open(rec.staging_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    auto job = std::make_shared<Job>();
    job->fd = fd;
    job->plan = rec.part_size > 0 ? plan_parts(rec.size, rec.part_size, rec.part_size)
                                  : plan_parts(rec.size, cfg_.part_size, store_.min_part_size());
    if (rec.part_size == 0 && job->plan.multipart) rec.part_size = job->plan.part_size;
    if (!job->plan.multipart)
      job->phase = Job::Phase::Put;
    else if (rec.upload_id.empty())
      job->phase = Job::Phase::Create;
    else
      job->phase = can_list ? Job::Phase::Reconcile : Job::Phase::Parts;
    job->resumed = resumed;
    job->rec = std::move(rec);
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    return true;
  };

  for (auto& rec : loaded->good) {
    struct stat st;
    std::string why;
    if (::stat(rec.staging_path.c_str(), &st) != 0) {
      why = "the staging file " + rec.staging_path + " is missing";
    } else if (static_cast<uint64_t>(st.st_size) != rec.size ||
               static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec != rec.mtime_ns) {
      // Never upload bytes that are not the version that was closed.
      why = "the staging file " + rec.staging_path + " changed after it was closed";
    }
    if (why.empty() && enqueue(rec, true)) {
      LOG_INFO("upload resumed: " << rec.key << " (" << fmt_bytes(rec.size) << ", " << rec.parts.size() << "/"
                                  << rec.parts_total() << " parts done)");
      ++report.resumed;
      continue;
    }
    if (why.empty()) why = "the staging file " + rec.staging_path + " cannot be opened: " + std::strerror(errno);
    LOG_ERROR("upload of " << rec.key << " cannot resume: " << why << "; see `bucketfs status`");
    if (auto r = cp_.mark_failed(rec, why); !r) return r.error();
    ++report.failed;
  }

  // A damaged record is never trusted; the staged file's own sidecar names its
  // key, so the file can still be uploaded whole, from part 1.
  auto staged = staging_.scan();
  for (auto& d : loaded->damaged) {
    ++report.damaged;
    bool requeued = false;
    for (auto& s : staged) {
      if (s.key != d.key) continue;
      auto found = record_for_staged(s, cfg_.bucket);
      if (!found) break;
      UploadRecord& rec = *found;
      rec.last_error = "checkpoint record was damaged (" + d.reason + "); uploading the staged file again";
      if (auto r = cp_.put(rec); !r) return r.error();
      requeued = enqueue(rec, true);
      break;
    }
    if (requeued) {
      ++report.damaged_requeued;
      LOG_WARN("damaged checkpoint record for " << d.key << " (" << d.reason
                                                << "); re-uploading its staged file from part 1");
    } else {
      LOG_ERROR("damaged checkpoint record for " << d.key << " (" << d.reason
                                                 << ") and no staged file for it; kept in the failed table");
      if (auto r = cp_.mark_damaged_failed(d); !r) return r.error();
    }
  }
  // Staged files no record covers: never closed (no sidecar) or already
  // uploaded -> removed; superseded by a newer generation of their key ->
  // removed; closed but unrecorded (a lost record) -> queued again.
  std::map<std::string, uint64_t> recorded_gen;
  std::set<std::string> referenced;
  {
    std::lock_guard lock(mu_);
    for (const auto& j : jobs_) {
      referenced.insert(j->rec.staging_path);
      recorded_gen[j->rec.key] = std::max(recorded_gen[j->rec.key], j->rec.generation);
    }
  }
  if (auto failed = cp_.load_failed())
    for (const auto& f : *failed) referenced.insert(f.staging_path);
  for (const auto& s : staging_.scan()) {
    if (referenced.count(s.path)) continue;
    auto g = recorded_gen.find(s.key);
    if (s.key.empty() || (g != recorded_gen.end() && g->second >= s.generation)) {
      LOG_DEBUG("removing staging file " << s.path << (s.key.empty() ? " (never closed)" : " (superseded)"));
      staging_.remove(s.path);
      ++report.removed;
      continue;
    }
    auto found = record_for_staged(s, cfg_.bucket);
    if (!found) continue;
    UploadRecord& rec = *found;
    rec.last_error = "re-queued from its staged file (the checkpoint record was missing)";
    if (auto r = cp_.put(rec); !r) return r.error();
    if (enqueue(rec, true)) {
      recorded_gen[rec.key] = rec.generation;
      ++report.unrecorded_requeued;
      LOG_WARN("staged file of " << rec.key << " had no checkpoint record; uploading it again");
    }
  }
  work_cv_.notify_all();
  return report;
}

checkpoint::CpResult<void> Uploader::submit(UploadRecord rec, std::chrono::milliseconds settle) {
  cancel(rec.key, false);
  int fd = ::open(rec.staging_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return checkpoint::StoreError{checkpoint::StoreError::Io,
                                  "cannot open staging file " + rec.staging_path + ": " + std::strerror(errno)};
  auto job = std::make_shared<Job>();
  job->fd = fd;
  job->plan = plan_parts(rec.size, cfg_.part_size, store_.min_part_size());
  rec.part_size = job->plan.multipart ? job->plan.part_size : 0;
  rec.upload_id.clear();
  rec.parts.clear();
  rec.state = UploadState::Pending;
  rec.bucket = cfg_.bucket;
  rec.created = rec.updated = std::time(nullptr);
  // The sidecar first: a closed file can be re-queued even without its record.
  if (int err = staging_.mark_closed(rec.staging_path, rec.key, rec.generation); err != 0)
    return checkpoint::StoreError{err == ENOSPC ? checkpoint::StoreError::NoSpace : checkpoint::StoreError::Io,
                                  "cannot record the staged file " + rec.staging_path + ": " + std::strerror(err)};
  if (auto r = cp_.put(rec); !r) return r.error();
  job->phase = job->plan.multipart ? Job::Phase::Create : Job::Phase::Put;
  job->rec = std::move(rec);
  if (settle.count() > 0) job->not_before = Clock::now() + settle;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  work_cv_.notify_all();
  return Ok{};
}

void Uploader::expedite(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto job = find(key);
    if (!job || job->rec.attempts > 0) return;  // a failed one keeps its backoff
    job->not_before = Clock::time_point{};
  }
  work_cv_.notify_all();
}

void Uploader::cancel(const std::string& key, bool drop_record) {
  std::shared_ptr<Job> job;
  {
    std::unique_lock lock(mu_);
    job = find(key);
    if (job) {
      job->cancelled = true;
      idle_cv_.wait(lock, [&] { return job->inflight == 0; });
      // A request that finished the upload while we waited has already
      // removed the job (and its upload id is complete, not to be aborted).
      auto it = std::find(jobs_.begin(), jobs_.end(), job);
      if (it != jobs_.end()) {
        jobs_.erase(it);
        if (!job->rec.upload_id.empty()) aborts_.emplace_back(key, job->rec.upload_id);
      } else {
        job->rec.upload_id.clear();
      }
    }
  }
  if (job) {
    // Any checkpoint write of the job has finished (it ran inside a request).
    std::lock_guard rlock(job->record_mu);
    if (!drop_record && !job->rec.upload_id.empty()) {
      // The record stays (its bytes may still be the closed version) but no
      // longer points at the aborted upload.
      job->rec.upload_id.clear();
      job->rec.parts.clear();
      job->rec.state = UploadState::Pending;
      (void)cp_.put(job->rec);
    }
    LOG_DEBUG("upload cancelled: " << key << (drop_record ? " (unlinked)" : " (changed again)"));
  }
  if (drop_record) (void)cp_.remove(key);
  idle_cv_.notify_all();
  work_cv_.notify_all();
}

checkpoint::CpResult<bool> Uploader::retarget(const std::string& old_key, const std::string& new_key) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    job = find(old_key);
  }
  if (!job) {
    // Nothing in flight. A record may still name old_key (an upload cancelled
    // by a metadata change, waiting for the next commit): it moves too, or the
    // next mount would upload the file under its old name.
    auto got = cp_.get(old_key);
    if (!got) return got.error();
    if (!*got) return false;
    UploadRecord rec = std::move(**got);
    rec.key = new_key;
    if (int err = staging_.mark_closed(rec.staging_path, rec.key, rec.generation); err != 0 && err != ENOENT)
      return checkpoint::StoreError{checkpoint::StoreError::Io, "cannot rename the staged file " +
                                                                    rec.staging_path + ": " + std::strerror(err)};
    if (auto r = cp_.put(rec); !r) return r.error();
    if (auto r = cp_.remove(old_key); !r) return r.error();
    return false;
  }
  cancel(old_key, false);
  {
    // The upload may have completed under old_key while cancel waited for its
    // last request: then the object is there, and there is nothing to move.
    std::lock_guard lock(mu_);
    if (job->phase == Job::Phase::Done) return false;
  }
  UploadRecord rec = job->rec;
  rec.key = new_key;
  if (auto r = submit(rec); !r) return r.error();  // rewrites the sidecar with the new key
  if (auto r = cp_.remove(old_key); !r) return r.error();
  return true;
}

int Uploader::wait(const std::string& key, uint64_t generation) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto d = done_generation_.find(key);
    if (d != done_generation_.end() && d->second >= generation) return 0;
    auto f = failed_generation_.find(key);
    if (f != failed_generation_.end() && f->second.first >= generation) return EIO;
    auto job = find(key);
    if (!job || job->rec.generation < generation) return 0;  // nothing of that generation pending
    idle_cv_.wait(lock);
  }
}

std::vector<PendingFile> Uploader::pending() const {
  std::lock_guard lock(mu_);
  std::vector<PendingFile> out;
  for (const auto& j : jobs_)
    out.push_back({j->rec.key, j->rec.staging_path, j->rec.size, j->rec.generation, j->rec.meta});
  return out;
}

bool Uploader::idle() const {
  std::lock_guard lock(mu_);
  return jobs_.empty() && aborts_.empty() && inflight_ == 0;
}

bool Uploader::stop(std::chrono::milliseconds grace) {
  std::vector<std::thread> workers;
  bool drained;
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    work_cv_.notify_all();
    drained = idle_cv_.wait_for(lock, grace, [&] { return inflight_ == 0; });
    workers.swap(workers_);
  }
  for (auto& t : workers) {
    if (drained)
      t.join();
    else
      t.detach();  // stuck in a request past the grace period; the process exit ends it
  }
  return drained;
}

bool Uploader::next_task(Task* out) {
  if (stopping_) return false;
  if (!aborts_.empty()) {
    out->kind = Task::Kind::Abort;
    out->key = aborts_.front().first;
    out->upload_id = aborts_.front().second;
    aborts_.pop_front();
    ++inflight_;
    return true;
  }
  auto now = Clock::now();
  for (const auto& job : jobs_) {
    if (job->cancelled || job->failing || job->phase == Job::Phase::Done || now < job->not_before) continue;
    Task t;
    t.job = job;
    switch (job->phase) {
      case Job::Phase::Put: t.kind = Task::Kind::Put; break;
      case Job::Phase::Reconcile: t.kind = Task::Kind::Reconcile; break;
      case Job::Phase::Create: t.kind = Task::Kind::Create; break;
      case Job::Phase::Complete: t.kind = Task::Kind::Complete; break;
      case Job::Phase::Parts: {
        uint32_t n = 0;
        for (uint32_t i = 1; i <= job->plan.count; ++i)
          if (!job->inflight_parts.count(i) && !job->part_done(i)) {
            n = i;
            break;
          }
        if (n == 0) {
          if (!job->inflight_parts.empty()) continue;  // last parts still in flight
          job->phase = Job::Phase::Complete;
          t.kind = Task::Kind::Complete;
          break;
        }
        t.kind = Task::Kind::Part;
        t.part = n;
        job->inflight_parts.insert(n);
        break;
      }
      case Job::Phase::Done: continue;
    }
    if (t.kind != Task::Kind::Part) {
      if (job->busy_single) continue;
      job->busy_single = true;
    }
    ++job->inflight;
    ++inflight_;
    *out = std::move(t);
    return true;
  }
  return false;
}

void Uploader::worker() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) return;
        if (next_task(&task)) break;
        // Sleep until woken, or until the earliest retry is due.
        auto until = Clock::now() + std::chrono::seconds(5);
        for (const auto& j : jobs_)
          if (j->not_before > Clock::now()) until = std::min(until, j->not_before);
        work_cv_.wait_until(lock, until);
      }
    }
    run(task);
    std::shared_ptr<Job> job = task.job;
    bool finalize_failure = false;
    {
      std::lock_guard lock(mu_);
      --inflight_;
      if (job) {
        --job->inflight;
        if (task.kind == Task::Kind::Part)
          job->inflight_parts.erase(task.part);
        else
          job->busy_single = false;
        finalize_failure = job->failing && job->inflight == 0 && !job->cancelled;
      }
    }
    if (finalize_failure) {
      std::lock_guard rlock(job->record_mu);
      UploadRecord snapshot;
      {
        std::lock_guard lock(mu_);
        job->failing = false;
        job->rec.attempts++;
        job->rec.state = UploadState::Failed;
        job->rec.last_error = job->fail_reason;
        job->rec.updated = std::time(nullptr);
        auto backoff = cfg_.retry_base * (1u << std::min<uint32_t>(job->rec.attempts - 1, 16));
        job->not_before = Clock::now() + std::min<std::chrono::milliseconds>(backoff, cfg_.retry_cap);
        snapshot = job->rec;
      }
      if (auto r = cp_.put(snapshot); !r)
        LOG_ERROR("cannot record the failure of " << snapshot.key << ": " << r.error().message);
      {
        // Waiters (fsync) learn of the failure only once it is recorded.
        std::lock_guard lock(mu_);
        failed_generation_[snapshot.key] = {snapshot.generation, snapshot.last_error};
      }
      LOG_WARN("upload failed: " << snapshot.key << " (attempt " << snapshot.attempts
                                 << "): " << snapshot.last_error << "; retrying later");
    }
    idle_cv_.notify_all();
    work_cv_.notify_all();
  }
}

void Uploader::run(Task& t) {
  try {
    switch (t.kind) {
      case Task::Kind::Abort: {
        auto r = store_.abort_multipart(t.key, t.upload_id);
        if (!r && r.error().code != store::ErrorCode::NoSuchUpload &&
            r.error().code != store::ErrorCode::Unsupported)
          LOG_WARN("abort of the multipart upload of " << t.key << " failed: " << r.error().describe());
        return;
      }
      case Task::Kind::Put: return run_put(*t.job);
      case Task::Kind::Reconcile: return run_reconcile(*t.job);
      case Task::Kind::Create: return run_create(*t.job);
      case Task::Kind::Part: return run_part(*t.job, t.part);
      case Task::Kind::Complete: return run_complete(*t.job);
    }
  } catch (const std::exception& e) {
    if (t.job) fail_pass(t.job, std::string("internal error: ") + e.what());
  }
}

void Uploader::persist(Job& job) {
  std::lock_guard rlock(job.record_mu);
  UploadRecord snapshot;
  {
    std::lock_guard lock(mu_);
    if (job.cancelled) return;
    job.rec.updated = std::time(nullptr);
    snapshot = job.rec;
  }
  if (auto r = cp_.put(snapshot); !r)
    LOG_ERROR("checkpoint write for " << snapshot.key << " failed: " << r.error().message);
}

void Uploader::fail_pass(const std::shared_ptr<Job>& job, const std::string& why) {
  std::lock_guard lock(mu_);
  if (!job->failing) {
    job->failing = true;
    job->fail_reason = why;
  }
}

void Uploader::run_put(Job& job) {
  auto r = store_.put(job.rec.key, store::FileRange{job.fd, 0, job.rec.size}, put_options(job.rec));
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    self = find(job.rec.key);
  }
  if (!self || self.get() != &job) return;  // cancelled meanwhile
  if (!r) return fail_pass(self, r.error().describe());
  finish_ok(self);
}

void Uploader::run_create(Job& job) {
  auto r = store_.create_multipart(job.rec.key, put_options(job.rec));
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    self = find(job.rec.key);
    if (!self || self.get() != &job) return;
    if (r) {
      job.rec.upload_id = *r;
      job.rec.parts.clear();
      job.rec.state = UploadState::Uploading;
      job.phase = Job::Phase::Parts;
    }
  }
  if (!r) return fail_pass(self, r.error().describe());
  LOG_INFO("upload started: " << job.rec.key << " (" << fmt_bytes(job.rec.size) << ", " << job.plan.count
                              << " parts of " << fmt_bytes(job.plan.part_size) << ")");
  persist(job);
}

void Uploader::run_reconcile(Job& job) {
  std::string key, upload_id;
  std::vector<checkpoint::PartRecord> recorded;
  {
    std::lock_guard lock(mu_);
    key = job.rec.key;
    upload_id = job.rec.upload_id;
    recorded = job.rec.parts;
  }
  std::map<int, store::PartInfo> server;
  int marker = 0;
  for (;;) {
    auto page = store_.list_parts(key, upload_id, marker, 1000);
    if (!page) {
      bool done_before = page.error().code == store::ErrorCode::NoSuchUpload &&
                         object_matches(store_, key, job.rec.size, recorded, job.plan.count);
      auto already_complete = [&](const std::string&, uint64_t, uint32_t) { return done_before; };
      std::shared_ptr<Job> self;
      {
        std::lock_guard lock(mu_);
        self = find(key);
        if (!self || self.get() != &job) return;
        if (page.error().code == store::ErrorCode::NoSuchUpload) {
          if (already_complete(key, job.rec.size, job.plan.count)) {
            // The crash came after CompleteMultipartUpload reached the server.
            job.phase = Job::Phase::Complete;
            job.rec.parts.clear();
            job.completed_elsewhere = true;
            return;
          }
          // Aborted or expired behind our back: start a new upload from part 1.
          LOG_WARN("multipart upload of " << key << " no longer exists on the server; starting again from part 1");
          job.rec.upload_id.clear();
          job.rec.parts.clear();
          job.phase = Job::Phase::Create;
          return;
        }
        if (page.error().code == store::ErrorCode::Unsupported) {
          job.phase = Job::Phase::Parts;  // trust the record
          return;
        }
      }
      return fail_pass(self, page.error().describe());
    }
    for (auto& p : page->parts) server[p.number] = p;
    if (!page->truncated) break;
    marker = page->next_marker;
  }
  // Keep recorded parts the server has with the same ETag; adopt parts the
  // server has that the record missed (a crash between the part's answer and its
  // commit) when their ETag is the MD5 of our bytes; re-send everything else.
  std::vector<checkpoint::PartRecord> keep;
  for (uint32_t n = 1; n <= job.plan.count; ++n) {
    auto s = server.find(static_cast<int>(n));
    if (s == server.end() || s->second.size != job.plan.length(n)) continue;
    auto r = std::find_if(recorded.begin(), recorded.end(),
                          [n](const auto& p) { return p.number == static_cast<int>(n); });
    if (r != recorded.end()) {
      if (r->etag == s->second.etag) keep.push_back(*r);
      continue;
    }
    std::string buf(static_cast<size_t>(std::min<uint64_t>(job.plan.length(n), 1 << 20)), '\0');
    crypto::Md5 md5;
    uint64_t off = job.plan.offset(n), left = job.plan.length(n);
    bool ok = true;
    while (left > 0) {
      ssize_t got = ::pread(job.fd, buf.data(), std::min<uint64_t>(left, buf.size()), static_cast<off_t>(off));
      if (got <= 0) {
        ok = false;
        break;
      }
      md5.update(buf.data(), static_cast<size_t>(got));
      off += static_cast<uint64_t>(got);
      left -= static_cast<uint64_t>(got);
    }
    std::string hex = crypto::hex(md5.finish());
    if (ok && hex == s->second.etag)
      keep.push_back({static_cast<int>(n), job.plan.length(n), s->second.etag, hex});
  }
  {
    std::lock_guard lock(mu_);
    if (job.cancelled) return;
    LOG_INFO("upload of " << key << " reconciled with the server: " << keep.size() << "/" << job.plan.count
                          << " parts already there");
    job.rec.parts = std::move(keep);
    job.phase = Job::Phase::Parts;
  }
  persist(job);
}

void Uploader::run_part(Job& job, uint32_t n) {
  std::string key, upload_id;
  {
    std::lock_guard lock(mu_);
    key = job.rec.key;
    upload_id = job.rec.upload_id;
  }
  auto r = store_.upload_part(key, upload_id, static_cast<int>(n),
                              store::FileRange{job.fd, job.plan.offset(n), job.plan.length(n)});
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    self = find(key);
    if (!self || self.get() != &job || job.rec.upload_id != upload_id) return;
    if (r) {
      checkpoint::PartRecord pr{static_cast<int>(n), r->size, r->etag, r->md5};
      auto pos = std::lower_bound(job.rec.parts.begin(), job.rec.parts.end(), pr,
                                  [](const auto& a, const auto& b) { return a.number < b.number; });
      job.rec.parts.insert(pos, pr);
      job.rec.state = UploadState::Uploading;
    } else if (r.error().code == store::ErrorCode::NoSuchUpload) {
      LOG_WARN("multipart upload of " << key << " vanished on the server; starting again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
    }
  }
  if (!r && r.error().code != store::ErrorCode::NoSuchUpload) {
    if (r.error().code == store::ErrorCode::LocalIo) LOG_ERROR("reading staged data of " << key << " failed");
    return fail_pass(self, "part " + std::to_string(n) + ": " + r.error().describe());
  }
  persist(job);
}

void Uploader::run_complete(Job& job) {
  std::string key, upload_id;
  std::vector<store::PartInfo> parts;
  {
    std::lock_guard lock(mu_);
    key = job.rec.key;
    upload_id = job.rec.upload_id;
    for (const auto& p : job.rec.parts) parts.push_back({p.number, p.size, p.etag, p.md5});
    job.rec.state = UploadState::Completing;
  }
  store::StoreResult<std::string> r = job.completed_elsewhere ? store::StoreResult<std::string>(std::string())
                                                              : store_.complete_multipart(key, upload_id, parts);
  bool landed = r.ok();
  // A complete that reached the server before a crash (or whose answer was
  // lost) is answered NoSuchUpload on RGW/S3 and 500 by s3rver when sent
  // again: the object is ours if it is exactly what these parts make.
  if (!r) landed = object_matches(store_, key, job.rec.size, parts, job.plan.count);
  if (!landed && r.error().code == store::ErrorCode::NoSuchUpload) {
    {
      std::lock_guard lock(mu_);
      if (job.cancelled) return;
      LOG_WARN("multipart upload of " << key << " vanished before completion; starting again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
      return;
    }
  }
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    self = find(key);
  }
  if (!self || self.get() != &job) return;
  if (!landed) return fail_pass(self, "complete: " + r.error().describe());
  auto h = store_.head(key);
  if (!h) return fail_pass(self, "checking the completed object: " + h.error().describe());
  if (h->size != job.rec.size)
    return fail_pass(self, "the completed object has " + std::to_string(h->size) + " bytes, expected " +
                               std::to_string(job.rec.size));
  finish_ok(self);
}

void Uploader::finish_ok(const std::shared_ptr<Job>& job) {
  UploadOutcome out;
  {
    std::lock_guard rlock(job->record_mu);
    {
      std::lock_guard lock(mu_);
      if (job->cancelled) return;
      out.key = job->rec.key;
      out.generation = job->rec.generation;
      out.staging_path = job->rec.staging_path;
      out.ok = true;
    }
    // The object is confirmed in the bucket; only now may the record go. The
    // sidecar goes first: a staged file with a sidecar and no record would be
    // re-queued at the next mount.
    if (int err = staging_.drop_key(out.staging_path); err != 0)
      LOG_WARN("cannot drop the sidecar of " << out.staging_path << ": " << std::strerror(err));
    if (auto r = cp_.remove(out.key); !r)
      LOG_ERROR("cannot drop the checkpoint of " << out.key << ": " << r.error().message);
  }
  auto secs = std::chrono::duration<double>(Clock::now() - job->started).count();
  LOG_INFO("upload completed: " << out.key << " (" << fmt_bytes(job->rec.size) << ", " << job->plan.count
                                << (job->plan.count == 1 ? " part" : " parts") << ", " << secs << " s"
                                << (job->resumed ? ", resumed" : "") << ")");
  if (done_) done_(out);
  {
    std::lock_guard lock(mu_);
    job->phase = Job::Phase::Done;
    auto it = std::find(jobs_.begin(), jobs_.end(), job);
    if (it != jobs_.end()) jobs_.erase(it);
    uint64_t& g = done_generation_[out.key];
    g = std::max(g, out.generation);
    failed_generation_.erase(out.key);
  }
}

}  // namespace bucketfs::upload
