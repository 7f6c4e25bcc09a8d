// upload_steps.cpp - the requests of one upload: a single PUT, or create,
// reconcile (after a restart), parts and complete; and what follows a
// confirmed object (finish_ok). Each runs on a worker without mu_ held and
// records its result under mu_. See uploader.hpp for the invariants.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bucketfs/sign/crypto.hpp"
#include "bucketfs/util/crashpoint.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/log.hpp"
#include "uploader_job.hpp"

namespace bucketfs::upload {

using checkpoint::UploadRecord;
using checkpoint::UploadState;

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

// The MD5 (lower-case hex) of [off, off + len) of fd; "" when it cannot be read.
std::string md5_of_range(int fd, uint64_t off, uint64_t len) {
  std::string buf(static_cast<size_t>(std::min<uint64_t>(len, 1 << 20)), '\0');
  crypto::Md5 md5;
  while (len > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(len, buf.size())), got = 0;
    if (pread_full(fd, buf.data(), want, off, &got) != 0 || got != want) return "";
    md5.update(buf.data(), got);
    off += got;
    len -= got;
  }
  return crypto::hex(md5.finish());
}

}  // namespace

bool sweep_lost_creates(store::ObjectStore& store, const std::string& key, std::time_t since) {
  constexpr std::time_t kLeeway = 60;
  std::string key_marker, id_marker;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = store.list_uploads(key, key_marker, id_marker);
    if (!page) return page.error().code == store::ErrorCode::Unsupported;
    for (const auto& u : page->uploads) {
      if (u.key != key || u.initiated == 0 || u.initiated < since - kLeeway) continue;
      auto a = store.abort_multipart(key, u.upload_id);
      if (!a && a.error().code != store::ErrorCode::NoSuchUpload) return false;
      LOG_INFO("aborted a multipart upload of " << key << " that a crash left before its id was recorded");
    }
    if (!page->truncated) return true;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
  return true;
}

void Uploader::run_put(Job& job) {
  auto r = store_.put(job.key(), store::FileRange{job.fd.get(), 0, job.file.mark.size}, put_options(job.rec));
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) return;  // cancelled meanwhile
    self = find(job.key());
  }
  if (!r) return fail_pass(self, r.error().describe());
  finish_ok(self);
}

void Uploader::run_create(Job& job) {
  std::shared_ptr<Job> self;
  std::time_t lost_since;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) return;
    self = find(job.key());
    lost_since = job.lost_since;
    job.rec.state = UploadState::Creating;
  }
  if (lost_since != 0) {
    if (!sweep_lost_creates(store_, job.key(), lost_since))
      return fail_pass(self, "cannot look for the multipart upload a crash left behind");
    std::lock_guard lock(mu_);
    job.lost_since = 0;
  }
  // The intent first, durably: if the answer is lost to a crash, the next
  // mount knows an upload of this key may exist and aborts it.
  if (!persist(job, true)) return fail_pass(self, "cannot record the multipart upload in the checkpoint store");
  BFS_CRASHPOINT("upload.creating");
  auto r = store_.create_multipart(job.key(), put_options(job.rec));
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) {
      if (r) aborts_.push_back({job.key(), *r});
      return;
    }
    if (r) {
      job.rec.upload_id = *r;
      job.rec.parts.clear();
      job.rec.state = UploadState::Uploading;
    }
  }
  if (!r) return fail_pass(self, r.error().describe());
  // The upload id is durable before any part is sent: an upload we started is
  // never forgotten (a crash leaves it to be resumed or aborted).
  if (!persist(job, true)) {
    {
      std::lock_guard lock(mu_);
      if (job.cancelled) return;  // cancel() queues its abort
      job.rec.upload_id.clear();
      aborts_.push_back({job.key(), *r});
    }
    return fail_pass(self, "cannot record the new multipart upload in the checkpoint store");
  }
  BFS_CRASHPOINT("upload.created");
  {
    std::lock_guard lock(mu_);
    if (job.phase == Job::Phase::Create) job.phase = Job::Phase::Parts;
  }
  LOG_INFO("upload started: " << job.key() << " (" << fmt_bytes(job.file.mark.size) << ", " << job.plan.count
                              << " parts of " << fmt_bytes(job.plan.part_size) << ")");
}

// The server no longer knows the upload (list_parts answered NoSuchUpload):
// either a crash came after CompleteMultipartUpload reached it, or the upload
// was aborted or expired. Under mu_.
void Uploader::reconcile_lost_upload(Job& job, bool completed_before) {
  if (completed_before) {
    job.phase = Job::Phase::Complete;
    job.completed_elsewhere = true;
    return;
  }
  LOG_WARN("multipart upload of " << job.key() << " no longer exists on the server; starting again from part 1");
  job.rec.upload_id.clear();
  job.rec.parts.clear();
  job.phase = Job::Phase::Create;
}

// Of the parts the server has: the recorded ones with the same ETag, and the
// ones the record missed (a crash between a part's answer and its commit)
// whose ETag is the MD5 of our bytes. Everything else is sent again.
std::vector<checkpoint::PartRecord> Uploader::parts_to_keep(Job& job,
                                                            const std::vector<checkpoint::PartRecord>& recorded,
                                                            const std::map<int, store::PartInfo>& server) {
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
    std::string hex = md5_of_range(job.fd.get(), job.plan.offset(n), job.plan.length(n));
    if (!hex.empty() && hex == s->second.etag)
      keep.push_back({static_cast<int>(n), job.plan.length(n), s->second.etag, hex});
  }
  return keep;
}

void Uploader::run_reconcile(Job& job) {
  std::string key = job.key(), upload_id;
  std::vector<checkpoint::PartRecord> recorded;
  {
    std::lock_guard lock(mu_);
    upload_id = job.rec.upload_id;
    recorded = job.rec.parts;
  }
  std::map<int, store::PartInfo> server;
  for (int marker = 0;;) {
    auto page = store_.list_parts(key, upload_id, marker, 1000);
    if (!page) {
      const auto code = page.error().code;
      bool done_before = code == store::ErrorCode::NoSuchUpload &&
                         object_matches(store_, key, job.file.mark.size, recorded, job.plan.count);
      std::shared_ptr<Job> self;
      {
        std::lock_guard lock(mu_);
        if (!is_current(job)) return;
        self = find(key);
        if (code == store::ErrorCode::NoSuchUpload) return reconcile_lost_upload(job, done_before);
        if (code == store::ErrorCode::Unsupported) {
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
  auto keep = parts_to_keep(job, recorded, server);
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
  std::string upload_id;
  {
    std::lock_guard lock(mu_);
    upload_id = job.rec.upload_id;
  }
  auto r = store_.upload_part(job.key(), upload_id, static_cast<int>(n),
                              store::FileRange{job.fd.get(), job.plan.offset(n), job.plan.length(n)});
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job) || job.rec.upload_id != upload_id) return;
    self = find(job.key());
    if (r) {
      checkpoint::PartRecord pr{static_cast<int>(n), r->size, r->etag, r->md5};
      auto pos = std::lower_bound(job.rec.parts.begin(), job.rec.parts.end(), pr,
                                  [](const auto& a, const auto& b) { return a.number < b.number; });
      job.rec.parts.insert(pos, pr);
      job.rec.state = UploadState::Uploading;
    } else if (r.error().code == store::ErrorCode::NoSuchUpload) {
      LOG_WARN("multipart upload of " << job.key() << " vanished on the server; starting again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
    }
  }
  if (!r && r.error().code != store::ErrorCode::NoSuchUpload) {
    if (r.error().code == store::ErrorCode::LocalIo)
      LOG_ERROR("reading staged data of " << job.key() << " failed");
    return fail_pass(self, "part " + std::to_string(n) + ": " + r.error().describe());
  }
  persist(job);
}

void Uploader::run_complete(Job& job) {
  const std::string key = job.key();
  std::string upload_id;
  std::vector<store::PartInfo> parts;
  bool elsewhere;
  {
    std::lock_guard lock(mu_);
    upload_id = job.rec.upload_id;
    for (const auto& p : job.rec.parts) parts.push_back({p.number, p.size, p.etag, p.md5});
    job.rec.state = UploadState::Completing;
    elsewhere = job.completed_elsewhere;
  }
  store::StoreResult<std::string> r = elsewhere ? store::StoreResult<std::string>(std::string())
                                                : store_.complete_multipart(key, upload_id, parts);
  bool landed = r.ok();
  // A complete that reached the server before a crash (or whose answer was
  // lost) is answered NoSuchUpload on RGW/S3 and 500 by s3rver when sent
  // again: the object is ours if it is exactly what these parts make.
  if (!r) landed = object_matches(store_, key, job.file.mark.size, parts, job.plan.count);
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) return;
    self = find(key);
    if (!landed && r.error().code == store::ErrorCode::NoSuchUpload) {
      LOG_WARN("multipart upload of " << key << " vanished before completion; starting again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
      return;
    }
  }
  if (!landed) return fail_pass(self, "complete: " + r.error().describe());
  {
    // From here on a retry only checks the object again: it is complete.
    std::lock_guard lock(mu_);
    job.completed_elsewhere = true;
  }
  auto h = store_.head(key);
  if (!h) return fail_pass(self, "checking the completed object: " + h.error().describe());
  if (h->size != job.file.mark.size)
    return fail_pass(self, "the completed object has " + std::to_string(h->size) + " bytes, expected " +
                               std::to_string(job.file.mark.size));
  finish_ok(self);
}

void Uploader::finish_ok(const std::shared_ptr<Job>& job) {
  UploadOutcome out;
  out.key = job->key();
  out.generation = job->generation();
  out.staging_path = job->file.staging_path;
  out.ok = true;
  {
    std::lock_guard rlock(job->record_mu);
    bool recorded;
    {
      std::lock_guard lock(mu_);
      job->landed = true;
      if (job->cancelled) return;  // the canceller decides what becomes of the file
      recorded = job->recorded;
    }
    BFS_CRASHPOINT("complete.confirmed");
    // The object is confirmed in the bucket: the mark goes first, durably (a
    // marked file would be uploaded again at the next mount, even after an
    // unlink), then the record.
    if (int err = staging_.drop_mark(out.staging_path); err != 0) {
      return fail_pass(job, std::string("cannot drop the closed mark of the staging file: ") + std::strerror(err));
    }
    BFS_CRASHPOINT("complete.mark_dropped");
    if (recorded) {
      if (auto r = cp_.remove(out.key); !r)
        LOG_ERROR("cannot drop the checkpoint of " << out.key << ": " << r.error().message);
    }
    auto secs = std::chrono::duration<double>(Clock::now() - job->started).count();
    LOG_INFO("upload completed: " << out.key << " (" << fmt_bytes(job->file.mark.size) << ", " << job->plan.count
                                  << (job->plan.count == 1 ? " part" : " parts") << ", " << secs << " s"
                                  << (job->resumed ? ", resumed" : "") << ")");
    if (done_) done_(out);
  }
  std::lock_guard lock(mu_);
  job->phase = Job::Phase::Done;
  if (is_current(*job)) jobs_.erase(out.key);
  order_.remove(job);
  uint64_t& g = done_generation_[out.key];
  g = std::max(g, out.generation);
  failed_generation_.erase(out.key);
}

}  // namespace bucketfs::upload
