// uploader.cpp - the Uploader's queue, workers and public calls; the requests
// themselves are in upload_steps.cpp. See uploader.hpp for the invariants.
//
// A Job is one file's upload. Workers pick the next request from the first job
// that has one (FIFO across files, parts of a file in parallel), run it without
// holding mu_, then record the result. A failed pass waits until the job's
// requests in flight have drained, records the failure, and schedules a retry.
#include "bucketfs/upload/uploader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "bucketfs/util/log.hpp"
#include "bucketfs/util/text.hpp"
#include "uploader_job.hpp"

namespace bucketfs::upload {

using checkpoint::UploadRecord;
using checkpoint::UploadState;

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
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : it->second;
}

bool Uploader::is_current(const Job& job) const {
  auto it = jobs_.find(job.key());
  return it != jobs_.end() && it->second.get() == &job;
}

void Uploader::enqueue(std::shared_ptr<Job> job) {
  order_.push_back(job);
  jobs_[job->key()] = std::move(job);
}

void Uploader::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  for (unsigned i = 0; i < cfg_.concurrency; ++i) workers_.emplace_back([this] { worker(); });
}

std::shared_ptr<Uploader::Job> Uploader::make_job(ClosedFile file, std::optional<UploadRecord> progress,
                                                  checkpoint::StoreError* err) {
  auto fd = staging_.open_file(file.staging_path, O_RDONLY);
  if (!fd) {
    *err = {checkpoint::StoreError::Io,
            "cannot open staging file " + file.staging_path + ": " + std::strerror(fd.error())};
    return nullptr;
  }
  auto job = std::make_shared<Job>(std::move(file));
  job->fd = std::move(*fd);
  const auto& m = job->file.mark;
  if (progress && progress->part_size > 0) {
    job->plan = plan_parts(m.size, progress->part_size, progress->part_size);
    if (progress->state == UploadState::Creating && progress->upload_id.empty())
      job->lost_since = progress->updated;
    job->rec = std::move(*progress);
    job->recorded = true;
  } else {
    job->plan = plan_parts(m.size, cfg_.part_size, store_.min_part_size());
    job->rec = fresh_record(job->file, cfg_.bucket);
    if (progress) {
      job->rec.attempts = progress->attempts;
      job->rec.last_error = progress->last_error;
      job->recorded = true;
    }
  }
  job->rec.part_size = job->plan.multipart ? job->plan.part_size : 0;
  if (!job->plan.multipart)
    job->phase = Job::Phase::Put;
  else if (job->rec.upload_id.empty())
    job->phase = Job::Phase::Create;
  else
    job->phase = store_.capabilities().list_parts ? Job::Phase::Reconcile : Job::Phase::Parts;
  return job;
}

checkpoint::CpResult<ResumeReport> Uploader::resume() {
  ResumeReport report;
  auto loaded = cp_.load_all();
  if (!loaded) return loaded.error();
  auto failed = cp_.load_failed();
  if (!failed) return failed.error();
  RecoveryPlan plan = plan_recovery(staging_.scan(), loaded->good, *failed, cfg_.prefix, cfg_.bucket);

  // Superseded and never-closed files go first, durably: a newer version's
  // confirmation must never leave an older one behind to be uploaded again.
  if (int err = staging_.remove_durably(plan.remove); err != 0)
    return checkpoint::StoreError{checkpoint::StoreError::Io,
                                  "cannot clean the staging area " + staging_.dir() + ": " + std::strerror(err)};
  report.removed = plan.remove.size();
  for (const auto& f : plan.failed) {
    LOG_ERROR("upload of " << f.record.key << " cannot go on: " << f.reason << "; see `bucketfs status`");
    if (auto r = cp_.mark_failed(f.record, f.reason); !r) return r.error();
    ++report.failed;
  }
  if (auto r = drop_stale(plan.stale_records, &report); !r) return r.error();
  for (const auto& key : plan.unfail) {
    LOG_INFO("upload of " << key << " had given up; trying it again");
    if (auto r = cp_.unfail(key); !r) return r.error();
  }
  for (const auto& d : loaded->damaged) {
    // Progress lost, nothing else: the staged file still carries its mark.
    LOG_WARN("damaged checkpoint record (" << d.reason << ") dropped; its file is uploaded again from its mark");
    if (auto r = cp_.mark_damaged_failed(d); !r) return r.error();
    if (auto r = cp_.remove_failed(d.key); !r) return r.error();
    ++report.damaged;
  }
  for (auto& u : plan.uploads) {
    const bool progress = u.progress && !u.progress->upload_id.empty();
    checkpoint::StoreError err;
    auto job = make_job(std::move(u.file), std::move(u.progress), &err);
    if (!job) return err;
    job->resumed = true;
    LOG_INFO("upload resumed: " << job->key() << " (" << fmt_bytes(job->file.mark.size) << ", "
                                << job->rec.parts.size() << "/" << job->plan.count << " parts done)");
    std::lock_guard lock(mu_);
    enqueue(std::move(job));
    ++report.resumed;
    report.with_progress += progress;
  }
  auto aborts = cp_.load_aborts();
  if (!aborts) return aborts.error();
  {
    std::lock_guard lock(mu_);
    for (auto& a : *aborts) aborts_.push_back(std::move(a));
    report.aborts = aborts_.size();
  }
  work_cv_.notify_all();
  return report;
}

checkpoint::CpResult<void> Uploader::drop_stale(const std::vector<UploadRecord>& stale, ResumeReport* report) {
  for (const auto& r : stale) {
    // A create whose answer a crash lost: the upload it made is swept now
    // (the record stays for the next mount if the server cannot be asked).
    if (r.state == UploadState::Creating && r.upload_id.empty() && !sweep_lost_creates(store_, r.key, r.updated)) {
      LOG_WARN("cannot look for the multipart upload a crash left behind for " << r.key << "; next mount");
      continue;
    }
    std::vector<checkpoint::PendingAbort> aborts;
    if (!r.upload_id.empty()) aborts.push_back({r.key, r.upload_id});
    if (auto d = cp_.remove(r.key, aborts); !d) return d.error();
    ++report->stale;
  }
  return Ok{};
}

checkpoint::CpResult<void> Uploader::submit(ClosedFile file, std::chrono::milliseconds settle,
                                            const StreamHandoff* handoff) {
  if (handoff && handoff->stream != 0 && adopt(file, settle, *handoff)) {
    work_cv_.notify_all();
    return Ok{};
  }
  {
    std::lock_guard lock(mu_);
    if (auto queued = find(file.mark.key); queued && queued->generation() > file.mark.generation) {
      LOG_WARN("upload of " << file.mark.key << " generation " << file.mark.generation
                            << " ignored: a newer one is queued");
      return Ok{};
    }
  }
  cancel(file.mark.key);
  checkpoint::StoreError err;
  auto job = make_job(std::move(file), std::nullopt, &err);
  if (!job) return err;
  if (settle.count() > 0) job->not_before = Clock::now() + settle;
  {
    std::lock_guard lock(mu_);
    enqueue(std::move(job));
  }
  work_cv_.notify_all();
  return Ok{};
}

uint64_t Uploader::stream_part_size() const { return std::max(cfg_.part_size, store_.min_part_size()); }

namespace {

store::Metadata without_times(store::Metadata m) {
  for (const char* k : {"mtime", "atime", "ctime"}) m.erase(k);
  return m;
}

}  // namespace

uint64_t Uploader::open_stream(const std::string& key, const std::string& staging_path,
                               const store::Metadata& meta) {
  if (!cfg_.stream_uploads) return 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || find(key)) return 0;  // one job per key: an older version still goes first
  }
  auto fd = staging_.open_file(staging_path, O_RDONLY);
  if (!fd) return 0;
  ClosedFile f;
  f.staging_path = staging_path;
  f.mark.key = key;    // generation 0: no closed version yet
  f.mark.meta = meta;  // its times change until the close: see run_complete
  auto job = std::make_shared<Job>(std::move(f));
  job->fd = std::move(*fd);
  job->plan.part_size = stream_part_size();
  job->plan.multipart = true;
  job->rec = fresh_record(job->file, cfg_.bucket);
  job->rec.part_size = job->plan.part_size;
  job->phase = Job::Phase::Create;
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || find(key)) return 0;
    id = job->stream = next_stream_++;
    enqueue(std::move(job));
  }
  LOG_INFO("upload of " << key << " begins while it is written");
  work_cv_.notify_all();
  return id;
}

void Uploader::stream_part(const std::string& key, uint64_t stream, uint32_t number, uint64_t version) {
  {
    std::lock_guard lock(mu_);
    auto job = find(key);
    if (!job || job->stream != stream || stream == 0 || job->cancelled || job->failing) return;
    job->stream_ready[number] = version;
    job->plan.count = std::max(job->plan.count, number);
    job->plan.size = static_cast<uint64_t>(job->plan.count) * job->plan.part_size;
  }
  work_cv_.notify_all();
}

void Uploader::drop_stream(const std::string& key, uint64_t stream) {
  {
    std::lock_guard lock(mu_);
    auto job = find(key);
    if (!job || job->stream != stream || stream == 0) return;
  }
  cancel(key);  // the caller's Pending::mu keeps adopt() out meanwhile
}

bool Uploader::adopt(const ClosedFile& file, std::chrono::milliseconds settle, const StreamHandoff& h) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    job = find(file.mark.key);
    if (!job || job->stream != h.stream) return false;
  }
  const PartPlan plan = plan_parts(file.mark.size, cfg_.part_size, store_.min_part_size());
  // The multipart upload was created with the metadata the file had then: the
  // closed file must have the same but for its times (which run_complete
  // sets once the object is complete), and be cut into the same parts.
  auto same_meta = [&](const UploadRecord& r) {
    return without_times(r.meta) == without_times(file.mark.meta) && r.content_type == file.mark.content_type;
  };
  std::lock_guard rlock(job->record_mu);
  {
    std::lock_guard lock(mu_);
    // Parts on the server past the closed file's last one (it was cut while
    // open): RGW refuses to complete with a subset of the parts it has
    // (InvalidPart), so such a stream is not adopted.
    const bool past_end = !job->sent_version.empty() && job->sent_version.rbegin()->first > plan.count;
    if (!is_current(*job) || job->stream != h.stream || job->cancelled || job->failing || !plan.multipart ||
        plan.part_size != job->plan.part_size || file.staging_path != job->file.staging_path ||
        !same_meta(job->rec) || past_end)
      return false;
    job->stream = 0;
    job->adopted = true;
    job->close_versions = h.versions;
    job->stream_ready.clear();
    auto& parts = job->rec.parts;
    parts.erase(std::remove_if(parts.begin(), parts.end(),
                               [&](const checkpoint::PartRecord& p) {
                                 auto sent = job->sent_version.find(static_cast<uint32_t>(p.number));
                                 return sent == job->sent_version.end() ||
                                        !job->sent_part_valid(static_cast<uint32_t>(p.number), sent->second);
                               }),
                parts.end());
    // Not the key nor the staging path (the same, checked above): workers
    // read those without mu_.
    stage::ClosedMark& m = job->file.mark;
    m.generation = file.mark.generation;
    m.size = file.mark.size;
    m.mtime_ns = file.mark.mtime_ns;
    m.meta = file.mark.meta;
    m.content_type = file.mark.content_type;
    m.legacy = file.mark.legacy;
    job->plan = plan;
    UploadRecord rec = fresh_record(job->file, cfg_.bucket);
    rec.upload_id = job->rec.upload_id;
    rec.checksum_algo = job->rec.checksum_algo;
    rec.parts = std::move(parts);
    rec.state = job->rec.state;
    rec.created = job->rec.created;
    rec.meta = job->rec.meta;  // what the upload carries
    rec.part_size = plan.part_size;
    job->rec = std::move(rec);
    if (job->phase != Job::Phase::Create) job->phase = Job::Phase::Parts;
    job->not_before = Clock::now() + settle;
    LOG_INFO("upload of " << job->key() << " adopted at close: " << job->rec.parts.size() << "/" << plan.count
                          << " parts sent while it was written");
  }
  // The closed file's record: a crash from here resumes with these parts
  // (before it, the stream's generation-0 record is stale: aborted, restarted).
  UploadRecord snapshot;
  {
    std::lock_guard lock(mu_);
    if (job->cancelled) return true;
    job->rec.updated = std::time(nullptr);
    snapshot = job->rec;
    job->recorded = true;
  }
  auto r = cp_.put(snapshot);
  if (r) r = cp_.sync();
  if (!r) LOG_ERROR("checkpoint write for " << snapshot.key << " failed: " << r.error().message);
  return true;
}

void Uploader::end_stream(const std::shared_ptr<Job>& job) {
  std::vector<checkpoint::PendingAbort> aborts;
  std::string why;
  bool recorded, lost_create;
  std::time_t since;
  {
    std::lock_guard lock(mu_);
    if (job->cancelled) return;
    job->cancelled = true;  // it stays the key's job (not idle) until its abort is queued
    if (!job->rec.upload_id.empty()) aborts.push_back({job->key(), job->rec.upload_id});
    why = job->fail_reason;
    recorded = job->recorded;
    lost_create = job->rec.state == UploadState::Creating && job->rec.upload_id.empty();
    since = job->rec.updated;
  }
  // A create whose answer was lost may have made an upload: swept now, or at
  // the next mount from the record (kept when the server cannot be asked).
  const bool swept = !lost_create || sweep_lost_creates(store_, job->key(), since);
  {
    std::lock_guard lock(mu_);
    auto now = find(job->key());
    recorded = recorded && swept && (!now || now == job);  // a newer job's record stays
  }
  if (recorded || !aborts.empty()) {
    if (auto r = cp_.remove(job->key(), aborts); !r)
      LOG_ERROR("cannot drop the checkpoint of " << job->key() << ": " << r.error().message);
  }
  {
    std::lock_guard lock(mu_);
    if (is_current(*job)) jobs_.erase(job->key());
    order_.remove(job);
    for (auto& a : aborts) aborts_.push_back(std::move(a));
  }
  LOG_WARN("upload of " << job->key() << " while it is written stopped (" << why
                        << "); it is uploaded after it is closed");
  idle_cv_.notify_all();
  work_cv_.notify_all();
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

CancelResult Uploader::cancel(const std::string& key) {
  std::shared_ptr<Job> job;
  bool landed = false;
  std::vector<checkpoint::PendingAbort> aborts;
  {
    std::unique_lock lock(mu_);
    job = find(key);
    if (!job) return CancelResult::None;
    job->cancelled = true;
    idle_cv_.wait(lock, [&] { return job->inflight == 0; });
    landed = job->landed;
    if (is_current(*job)) jobs_.erase(key);
    order_.remove(job);
    if (!landed && !job->rec.upload_id.empty()) aborts.push_back({key, job->rec.upload_id});
  }
  {
    // Any checkpoint write of the job has finished (it ran inside a request).
    std::lock_guard rlock(job->record_mu);
    bool newer, parked;
    {
      std::lock_guard lock(mu_);
      newer = find(key) != nullptr;  // a new job's record must stay
      parked = job->parked;
    }
    // A parked job's record is in the failed table: it describes nothing now.
    if (parked) {
      if (auto r = cp_.remove_failed(key); !r)
        LOG_ERROR("cannot drop the failed record of " << key << ": " << r.error().message);
    }
    if (!newer && (job->recorded || !aborts.empty())) {
      if (auto r = cp_.remove(key, aborts); !r)
        LOG_ERROR("cannot drop the checkpoint of " << key << ": " << r.error().message);
    }
  }
  {
    std::lock_guard lock(mu_);
    for (auto& a : aborts) aborts_.push_back(std::move(a));
  }
  LOG_DEBUG("upload cancelled: " << key << (landed ? " (it had completed)" : ""));
  idle_cv_.notify_all();
  work_cv_.notify_all();
  return landed ? CancelResult::Completed : CancelResult::Cancelled;
}

int Uploader::wait(const std::string& key, uint64_t generation) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto d = done_generation_.find(key);
    if (d != done_generation_.end() && d->second >= generation) return 0;
    auto f = failed_generation_.find(key);
    if (f != failed_generation_.end() && f->second.first >= generation) return EIO;
    auto job = find(key);
    if (!job || job->generation() < generation) return 0;  // nothing of that generation pending
    idle_cv_.wait(lock);
  }
}

std::vector<ClosedFile> Uploader::pending() const {
  std::lock_guard lock(mu_);
  std::vector<ClosedFile> out;
  for (const auto& j : order_)
    if (j->stream == 0) out.push_back(j->file);
  return out;
}

int Uploader::sync_state() {
  if (int err = staging_.sync_dir()) return err;
  auto r = cp_.sync();
  return r ? 0 : EIO;
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
    out->abort = std::move(aborts_.front());
    aborts_.pop_front();
    ++inflight_;
    return true;
  }
  auto now = Clock::now();
  for (const auto& job : order_) {
    if (job->cancelled || job->failing || job->parked || job->phase == Job::Phase::Done || now < job->not_before)
      continue;
    Task t;
    t.job = job;
    switch (job->phase) {
      case Job::Phase::Put: t.kind = Task::Kind::Put; break;
      case Job::Phase::Reconcile: t.kind = Task::Kind::Reconcile; break;
      case Job::Phase::Create: t.kind = Task::Kind::Create; break;
      case Job::Phase::Complete: t.kind = Task::Kind::Complete; break;
      case Job::Phase::Parts: {
        if (job->stream != 0) {
          // An open file: only the parts its writer finished, never Complete,
          // and no more than stream_concurrency of them at once (0: no
          // limit but the workers). The writer shares the CPU with these
          // uploads (and a local server): two instead of eight made a 1 GiB
          // cp return about a fifth sooner, on loopback and over a 20 ms,
          // 40 MB/s link alike, but the upload ended 9% later over the link
          // (bench/README.md). Hence no limit by default.
          const unsigned cap = cfg_.stream_concurrency;
          if (cap != 0 && job->inflight_parts.size() >= cap) continue;
          auto ready = std::find_if(job->stream_ready.begin(), job->stream_ready.end(),
                                    [&](const auto& r) { return !job->inflight_parts.count(r.first); });
          if (ready == job->stream_ready.end()) continue;
          t.kind = Task::Kind::Part;
          t.part = ready->first;
          t.streamed = true;
          t.version = ready->second;
          t.offset = static_cast<uint64_t>(t.part - 1) * job->plan.part_size;
          t.length = job->plan.part_size;
          job->sent_version[t.part] = t.version;
          job->stream_ready.erase(ready);
          job->inflight_parts.insert(t.part);
          break;
        }
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
        t.offset = job->plan.offset(n);
        t.length = job->plan.length(n);
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
        bool any_parked = false;
        for (const auto& j : order_) {
          if (j->not_before > Clock::now()) until = std::min(until, j->not_before);
          any_parked = any_parked || j->parked;
        }
        if (any_parked) until = std::min(until, next_unpark_check_);
        work_cv_.wait_until(lock, until);
        if (any_parked && Clock::now() >= next_unpark_check_) {
          next_unpark_check_ = Clock::now() + std::chrono::seconds(2);
          lock.unlock();
          unpark_retried();
          lock.lock();
        }
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
    if (finalize_failure) record_failure(job);
    idle_cv_.notify_all();
    work_cv_.notify_all();
  }
}

void Uploader::record_failure(const std::shared_ptr<Job>& job) {
  std::lock_guard rlock(job->record_mu);
  UploadRecord snapshot;
  bool give_up = false;
  bool stream;
  {
    std::lock_guard lock(mu_);
    if (job->cancelled) return;
    stream = job->stream != 0;  // (adopt() leaves a failing stream alone)
  }
  if (stream) return end_stream(job);
  {
    std::lock_guard lock(mu_);
    if (job->cancelled) return;
    job->failing = false;
    job->rec.attempts++;
    // A failed create may still have made an upload: Creating stays, so a
    // crash before the next attempt sweeps it at the next mount.
    if (job->rec.state != UploadState::Creating) job->rec.state = UploadState::Failed;
    job->rec.last_error = job->fail_reason;
    job->rec.updated = std::time(nullptr);
    auto backoff = cfg_.retry_base * (1u << std::min<uint32_t>(job->rec.attempts - 1, 16));
    job->not_before = Clock::now() + std::min<std::chrono::milliseconds>(backoff, cfg_.retry_cap);
    const int spent = ++job->passes[job->fail_class];
    const store::RetryBudget budget = store::default_budget(job->fail_class);
    if (budget.passes != store::kUnbounded && spent > budget.passes) {
      job->parked = true;
      job->rec.last_error = "gave up after " + std::to_string(spent) + " failed attempt" +
                            (spent == 1 ? "" : "s") + " (" + store::name(job->fail_class) +
                            "): " + job->fail_reason +
                            "; the staged file is kept: fix the cause, then run `bucketfs retry`";
    }
    give_up = job->parked;
    snapshot = job->rec;
  }
  if (give_up) {
    // Nothing staged is deleted: the mark and the file stay, the record (with
    // its progress) moves to the failed table that status shows.
    if (auto r = cp_.mark_failed(snapshot, snapshot.last_error); !r)
      LOG_ERROR("cannot record the failure of " << snapshot.key << ": " << r.error().message);
  } else if (auto r = cp_.put(snapshot); !r) {
    LOG_ERROR("cannot record the failure of " << snapshot.key << ": " << r.error().message);
  }
  {
    // Waiters (fsync) learn of the failure only once it is recorded.
    std::lock_guard lock(mu_);
    job->recorded = true;
    failed_generation_[snapshot.key] = {snapshot.generation, snapshot.last_error};
  }
  if (give_up)
    LOG_ERROR("upload of " << snapshot.key << " " << snapshot.last_error);
  else
    LOG_WARN("upload failed: " << snapshot.key << " (attempt " << snapshot.attempts << "): " << snapshot.last_error
                               << "; retrying later");
}

void Uploader::run(Task& t) {
  try {
    switch (t.kind) {
      case Task::Kind::Abort: {
        auto r = store_.abort_multipart(t.abort.key, t.abort.upload_id);
        if (!r && r.error().code != store::ErrorCode::NoSuchUpload &&
            r.error().code != store::ErrorCode::Unsupported) {
          LOG_WARN("abort of the multipart upload of " << t.abort.key << " failed: " << r.error().describe()
                                                       << "; it is tried again at the next mount");
          return;
        }
        if (auto d = cp_.abort_done(t.abort.upload_id); !d)
          LOG_WARN("cannot record the abort of " << t.abort.key << ": " << d.error().message);
        return;
      }
      case Task::Kind::Put: return run_put(*t.job);
      case Task::Kind::Reconcile: return run_reconcile(*t.job);
      case Task::Kind::Create: return run_create(*t.job);
      case Task::Kind::Part: return run_part(*t.job, t);
      case Task::Kind::Complete: return run_complete(*t.job);
    }
  } catch (const std::exception& e) {
    if (t.job) fail_pass(t.job, std::string("internal error: ") + e.what());
  }
}

bool Uploader::persist(Job& job, bool sync) {
  std::lock_guard rlock(job.record_mu);
  UploadRecord snapshot;
  {
    std::lock_guard lock(mu_);
    if (job.cancelled) return false;
    job.rec.updated = std::time(nullptr);
    snapshot = job.rec;
    job.recorded = true;
  }
  auto r = cp_.put(snapshot);
  if (r && sync) r = cp_.sync();
  if (!r) LOG_ERROR("checkpoint write for " << snapshot.key << " failed: " << r.error().message);
  return r.ok();
}

// A sent part's progress, written without making the worker wait behind
// another worker's write of the same job. Each checkpoint commit syncs the
// store, and while a big file is being staged that sync waits for the file
// system's journal, which first writes out the staged data (ext4,
// data=ordered): the workers of a file queued on record_mu for up to a second
// at a time and sent nothing meanwhile. Now the worker that holds record_mu
// writes the job's latest record again until no part has come in meanwhile
// (one commit for all of them), and the others go on to their next part;
// run_complete writes what is still marked before the complete goes.
// A crash before that write costs only the parts sent again. Nothing is
// recorded that was not sent, each write is the job's record as it is then,
// and once finish_ok drops the record (or cancel does) nothing writes it again.
void Uploader::record_progress(Job& job) {
  {
    std::lock_guard lock(mu_);
    job.progress_dirty = true;
  }
  for (;;) {
    {
      std::unique_lock rlock(job.record_mu, std::try_to_lock);
      if (!rlock) return;  // its holder writes this progress too: it looks again after it lets go
      write_progress(job);
    }
    // A part that came in between the last look and the unlock found
    // record_mu taken: it is written by this worker or by the next taker.
    std::lock_guard lock(mu_);
    if (!job.progress_dirty || job.cancelled || job.landed) return;
  }
}

void Uploader::write_progress(Job& job) {
  for (;;) {
    UploadRecord snapshot;
    {
      std::lock_guard lock(mu_);
      // landed: finish_ok (under record_mu) drops the record next; a write
      // now would bring it back.
      if (!job.progress_dirty || job.cancelled || job.landed) return;
      job.progress_dirty = false;
      job.rec.updated = std::time(nullptr);
      snapshot = job.rec;
      job.recorded = true;
    }
    if (auto r = cp_.put(snapshot); !r)
      LOG_ERROR("checkpoint write for " << snapshot.key << " failed: " << r.error().message);
  }
}

void Uploader::fail_pass(const std::shared_ptr<Job>& job, const std::string& why, store::ErrorClass cls) {
  std::lock_guard lock(mu_);
  if (!job->failing) {
    job->failing = true;
    job->fail_reason = why;
    job->fail_class = cls;
  }
}

void Uploader::fail_pass(const std::shared_ptr<Job>& job, const std::string& what, const store::Error& e) {
  fail_pass(job, what + store::explain(e), store::error_class(e.code));
}

namespace {

// The keys a `bucketfs retry` request names ("*": every one), consumed: the
// file is removed once read. Empty when there is no request.
std::set<std::string> take_retry_request(const std::string& path) {
  std::set<std::string> keys;
  if (path.empty()) return keys;
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return keys;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || st.st_size > (1 << 20)) {
    LOG_WARN("ignoring " << path << ": not a small regular file of ours");
    ::unlink(path.c_str());
    return keys;
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  if (pread_full(fd.get(), text.data(), text.size(), 0, &got) != 0) return keys;
  text.resize(got);
  ::unlink(path.c_str());
  for (auto line : split_fields(text, '\n')) keys.emplace(line);
  return keys;
}

bool still_failed(checkpoint::CheckpointStore& cp, const std::string& key) {
  auto failed = cp.load_failed();
  if (!failed) return true;
  for (const auto& r : *failed)
    if (r.key == key) return true;
  return false;
}

}  // namespace

void Uploader::unpark_retried() {
  std::vector<std::shared_ptr<Job>> parked;
  {
    std::lock_guard lock(mu_);
    for (const auto& j : order_)
      if (j->parked && !j->cancelled) parked.push_back(j);
  }
  if (parked.empty()) return;
  const std::set<std::string> asked = take_retry_request(cfg_.retry_request_file);
  if (asked.empty()) return;
  for (const auto& j : parked) {
    if (!asked.count("*") && !asked.count(j->key())) continue;
    // record_mu first: a job is parked (under mu_) before its record reaches
    // the failed table, and only what `bucketfs retry` asked for is sent again.
    std::lock_guard rlock(j->record_mu);
    if (auto r = cp_.unfail(j->key()); !r) {
      LOG_ERROR("cannot move " << j->key() << " out of the failed table: " << r.error().message);
      continue;
    } else if (!*r && still_failed(cp_, j->key())) {
      LOG_ERROR("cannot move " << j->key()
                               << " out of the failed table: its record does not match the staged file");
      continue;
    }
    std::lock_guard lock(mu_);
    if (!j->parked || j->cancelled) continue;
    j->parked = false;
    j->passes.clear();
    j->rec.attempts = 0;
    j->rec.last_error.clear();
    j->not_before = Clock::now();
    failed_generation_.erase(j->key());
    LOG_INFO("upload of " << j->key() << " is tried again (bucketfs retry)");
  }
  work_cv_.notify_all();
}

}  // namespace bucketfs::upload
