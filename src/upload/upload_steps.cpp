// upload_steps.cpp - the requests of one upload: a single PUT, or create,
// reconcile (after a restart), parts and complete; and what follows a
// confirmed object (finish_ok). Each runs on a worker without mu_ held and
// records its result under mu_. See uploader.hpp for the invariants.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/store/verify.hpp"
#include "bucketfs/util/crashpoint.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/md5_lanes.hpp"
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

store::MultipartUpload multipart_of(const UploadRecord& r) {
  return {r.upload_id, static_cast<store::ChecksumAlgo>(r.checksum_algo)};
}

store::PartInfo part_info(const UploadRecord& r, const checkpoint::PartRecord& p) {
  store::PartInfo info{p.number, p.size, p.etag, p.md5, {}};
  if (r.checksum_algo != 0) info.crc = {static_cast<store::ChecksumAlgo>(r.checksum_algo), p.crc};
  return info;
}

// Whether key already holds the object these recorded parts make (see
// store/verify.hpp: by checksum, multipart ETag, or size + the whole file's
// MD5, whichever the server provides). Unknown and errors count as "no":
// the caller then does what it would have done without the question.
store::Verification already_ours(store::ObjectStore& store, const UploadRecord& r, uint32_t count, int fd) {
  store::Verification v;
  if (r.parts.size() != count || count == 0) {
    v.how = "parts missing from the record";
    return v;
  }
  store::ObjectExpectation want;
  want.size = r.size;
  want.multipart = true;
  for (const auto& p : r.parts) want.parts.push_back(part_info(r, p));
  want.file = store::FileRange{fd, 0, r.size};
  auto got = store::verify_object(store, r.key, want);
  if (!got) {
    v.how = "cannot check: " + got.error().describe();
    return v;
  }
  return *got;
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
  if (!r) return fail_pass(self, "", r.error());
  finish_ok(self);
}

void Uploader::run_create(Job& job) {
  std::shared_ptr<Job> self;
  std::time_t lost_since;
  store::PutOptions options;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) return;
    self = find(job.key());
    lost_since = job.lost_since;
    job.rec.state = UploadState::Creating;
    options = put_options(job.rec);
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
  auto r = store_.create_upload(job.key(), options);
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) {
      if (r) aborts_.push_back({job.key(), r->upload_id});
      return;
    }
    if (r) {
      job.rec.upload_id = r->upload_id;
      job.rec.checksum_algo = static_cast<uint8_t>(r->algo);
      job.rec.parts.clear();
      job.rec.state = UploadState::Uploading;
    }
  }
  if (!r) return fail_pass(self, "", r.error());
  // The upload id is durable before any part is sent: an upload we started is
  // never forgotten (a crash leaves it to be resumed or aborted).
  if (!persist(job, true)) {
    {
      std::lock_guard lock(mu_);
      if (job.cancelled) return;  // cancel() queues its abort
      job.rec.upload_id.clear();
      aborts_.push_back({job.key(), r->upload_id});
    }
    return fail_pass(self, "cannot record the new multipart upload in the checkpoint store");
  }
  BFS_CRASHPOINT("upload.created");
  {
    std::lock_guard lock(mu_);
    if (job.phase == Job::Phase::Create) job.phase = Job::Phase::Parts;
  }
  uint64_t size, stream, part_size;
  uint32_t count;
  {
    std::lock_guard lock(mu_);
    size = job.file.mark.size;
    count = job.plan.count;
    part_size = job.plan.part_size;
    stream = job.stream;
  }
  if (stream != 0)
    LOG_INFO("upload started while written: " << job.key() << " (parts of " << fmt_bytes(part_size) << ")");
  else
    LOG_INFO("upload started: " << job.key() << " (" << fmt_bytes(size) << ", " << count << " parts of "
                                << fmt_bytes(part_size) << ")");
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
      if (store::etag_equals(r->etag, s->second.etag)) keep.push_back(*r);
      continue;
    }
    // A part the record missed is kept only when the server's ETag is the MD5
    // of our bytes (a KMS-style ETag is not, and the part is sent again).
    if (!store::looks_like_md5(s->second.etag)) continue;
    std::string hex = md5_of_range(job.fd.get(), job.plan.offset(n), job.plan.length(n));
    if (hex.empty() || !store::etag_equals(hex, s->second.etag)) continue;
    checkpoint::PartRecord pr{static_cast<int>(n), job.plan.length(n), s->second.etag, hex, 0};
    // With a CRC algorithm the part's CRC is needed at Complete: compute it
    // (or send the part again when the file cannot be read).
    if (job.rec.checksum_algo != 0) {
      store::ChecksumPlan plan{static_cast<store::ChecksumAlgo>(job.rec.checksum_algo), false};
      auto c = store::checksum_file_range({job.fd.get(), job.plan.offset(n), job.plan.length(n)}, plan);
      if (!c) continue;
      pr.crc = c->crc.value;
    }
    keep.push_back(pr);
  }
  return keep;
}

void Uploader::run_reconcile(Job& job) {
  std::string key = job.key(), upload_id;
  std::vector<checkpoint::PartRecord> recorded;
  UploadRecord snapshot;
  {
    std::lock_guard lock(mu_);
    upload_id = job.rec.upload_id;
    recorded = job.rec.parts;
    snapshot = job.rec;
  }
  std::map<int, store::PartInfo> server;
  for (int marker = 0;;) {
    auto page = store_.list_parts(key, upload_id, marker, 1000);
    if (!page) {
      const auto code = page.error().code;
      bool done_before = false;
      if (code == store::ErrorCode::NoSuchUpload) {
        auto v = already_ours(store_, snapshot, job.plan.count, job.fd.get());
        done_before = v.verdict == store::Verdict::Yes;
        LOG_INFO("multipart upload of " << key << " is gone from the server; the object "
                                        << (done_before ? "is" : "is not known to be") << " ours (" << v.how
                                        << ")");
      }
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
      return fail_pass(self, "listing the parts: ", page.error());
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

std::string Uploader::presum(Job& job, const Task& t) {
  if (!store_.checksum_plan().md5) return "";
  const uint32_t n = t.part;
  struct Span {
    uint32_t part;
    uint64_t version;
    crypto::FileSpan range;
  };
  std::vector<Span> batch;
  {
    std::unique_lock lock(mu_);
    const uint64_t want = job.bytes_version(n, t.streamed, t.version);
    presum_cv_.wait(lock, [&] { return !job.presumming.count(n); });
    auto have = job.presums.find(n);
    if (have != job.presums.end()) {
      Job::Presum p = std::move(have->second);
      job.presums.erase(have);
      if (p.offset == t.offset && p.length == t.length && p.version == want) return p.md5;
    }
    // This part, and the parts of the job that wait for a connection and
    // were not hashed yet: in the order they will be sent.
    batch.push_back({n, want, {job.fd.get(), t.offset, t.length}});
    auto wanted = [&](uint32_t i, uint64_t version) {
      auto p = job.presums.find(i);
      return i != n && !job.inflight_parts.count(i) && !job.presumming.count(i) &&
             (p == job.presums.end() || p->second.version != version);
    };
    if (job.stream != 0) {
      for (const auto& [i, version] : job.stream_ready)
        if (batch.size() < crypto::kMd5Lanes && wanted(i, version))
          batch.push_back(
              {i, version, {job.fd.get(), static_cast<uint64_t>(i - 1) * job.plan.part_size, job.plan.part_size}});
    } else if (job.phase == Job::Phase::Parts) {
      for (uint32_t i = 1; i <= job.plan.count && batch.size() < crypto::kMd5Lanes; ++i)
        if (!job.part_done(i) && wanted(i, job.bytes_version(i, false, 0)))
          batch.push_back(
              {i, job.bytes_version(i, false, 0), {job.fd.get(), job.plan.offset(i), job.plan.length(i)}});
    }
    for (const auto& b : batch) job.presumming.insert(b.part);
  }
  std::vector<crypto::FileSpan> ranges;
  for (const auto& b : batch) ranges.push_back(b.range);
  std::vector<std::string> md5 = crypto::md5_file_spans(ranges);
  std::string mine;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      job.presumming.erase(batch[i].part);
      if (md5[i].empty()) continue;
      std::string hex = crypto::hex(md5[i]);
      if (i == 0)
        mine = std::move(hex);
      else
        job.presums[batch[i].part] = {batch[i].range.offset, batch[i].range.length, batch[i].version,
                                      std::move(hex)};
    }
  }
  presum_cv_.notify_all();
  return mine;
}

void Uploader::run_part(Job& job, const Task& t) {
  const uint32_t n = t.part;
  store::MultipartUpload upload;
  {
    std::lock_guard lock(mu_);
    upload = multipart_of(job.rec);
  }
  const std::string& upload_id = upload.upload_id;
  store::BodyChecksums known;
  known.md5 = presum(job, t);
  auto r = store_.upload_part(job.key(), upload, static_cast<int>(n),
                              store::FileRange{job.fd.get(), t.offset, t.length}, known);
  std::shared_ptr<Job> self;
  bool lost_stream = false;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job) || job.rec.upload_id != upload_id) return;
    self = find(job.key());
    if (r && t.streamed && job.adopted && !job.sent_part_valid(n, t.version)) {
      // Written again after it was sent: sent again from the closed file.
      LOG_DEBUG("part " << n << " of " << job.key() << " changed while it was sent; sending it again");
      return;
    } else if (r) {
      checkpoint::PartRecord pr{static_cast<int>(n), r->size, r->etag, r->md5, r->crc.value};
      auto pos = std::lower_bound(job.rec.parts.begin(), job.rec.parts.end(), pr,
                                  [](const auto& a, const auto& b) { return a.number < b.number; });
      job.rec.parts.insert(pos, pr);
      job.rec.state = UploadState::Uploading;
      job.passes.clear();  // progress: failures before it do not add up to giving up
    } else if (r.error().code == store::ErrorCode::NoSuchUpload && job.stream != 0) {
      lost_stream = true;  // its sent parts are gone: the file goes after close
    } else if (r.error().code == store::ErrorCode::NoSuchUpload) {
      LOG_WARN("multipart upload of " << job.key() << " vanished on the server; starting again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
    }
  }
  if (!r && (r.error().code != store::ErrorCode::NoSuchUpload || lost_stream)) {
    if (r.error().code == store::ErrorCode::LocalIo)
      LOG_ERROR("reading staged data of " << job.key() << " failed");
    return fail_pass(self, "part " + std::to_string(n) + ": ", r.error());
  }
  record_progress(job);
}

void Uploader::run_complete(Job& job) {
  // The record names every sent part before the complete goes (a worker that
  // recorded parts may still be writing, or one of the other record writes
  // held record_mu when the last parts came): a crash after the complete
  // landed is then recognised at the next mount as ours (already_ours needs
  // every part) rather than sent again from part 1.
  {
    std::lock_guard rlock(job.record_mu);
    write_progress(job);
  }
  const std::string key = job.key();
  std::vector<store::PartInfo> parts;
  UploadRecord snapshot;
  bool elsewhere;
  {
    std::lock_guard lock(mu_);
    for (const auto& p : job.rec.parts) parts.push_back(part_info(job.rec, p));
    job.rec.state = UploadState::Completing;
    snapshot = job.rec;
    elsewhere = job.completed_elsewhere;
  }
  store::StoreResult<std::string> r = elsewhere ? store::StoreResult<std::string>(std::string())
                                                : store_.complete_upload(key, multipart_of(snapshot), parts);
  bool landed = r.ok();
  // A complete that reached the server before a crash (or whose answer was
  // lost) is answered NoSuchUpload on RGW/S3 and 500 by s3rver when sent
  // again: the object is ours if it is exactly what these parts make. An
  // Integrity answer means the object is NOT ours: never asked again.
  if (!r && r.error().code != store::ErrorCode::Integrity) {
    auto v = already_ours(store_, snapshot, job.plan.count, job.fd.get());
    landed = v.verdict == store::Verdict::Yes;
    LOG_INFO("complete of " << key << " failed (" << r.error().describe() << "); the object "
                            << (landed ? "is" : "is not known to be") << " ours (" << v.how << ")");
  }
  std::shared_ptr<Job> self;
  {
    std::lock_guard lock(mu_);
    if (!is_current(job)) return;
    self = find(key);
    if (!landed && r.error().code == store::ErrorCode::Integrity) {
      // The server made an object that is not what our parts make: a new
      // upload, and the pass counts against the integrity budget.
      LOG_ERROR("the object " << key << " the server completed does not match the parts sent ("
                              << r.error().describe() << "); uploading it again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
    } else if (!landed && r.error().code == store::ErrorCode::NoSuchUpload) {
      LOG_WARN("multipart upload of " << key << " vanished before completion; starting again from part 1");
      job.rec.upload_id.clear();
      job.rec.parts.clear();
      job.phase = Job::Phase::Create;
      return;
    }
  }
  if (!landed) return fail_pass(self, "complete: ", r.error());
  {
    // From here on a retry only checks the object again: it is complete.
    std::lock_guard lock(mu_);
    job.completed_elsewhere = true;
  }
  auto h = store_.head(key);
  if (!h) return fail_pass(self, "checking the completed object: ", h.error());
  if (h->size != job.file.mark.size)
    return fail_pass(self,
                     "the completed object has " + std::to_string(h->size) + " bytes, expected " +
                         std::to_string(job.file.mark.size),
                     store::ErrorClass::Integrity);
  // An upload begun while the file was written carries the times it had
  // then: the object gets the closed file's metadata (a copy onto itself,
  // server-side) before the mark goes. A crash before that does it again.
  const auto& want = job.file.mark;
  if (snapshot.meta != want.meta || snapshot.content_type != want.content_type) {
    auto c = store_.copy(key, key, store::PutOptions{want.meta, want.content_type, {}});
    if (!c) return fail_pass(self, "setting the metadata of the completed object: ", c.error());
  }
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
