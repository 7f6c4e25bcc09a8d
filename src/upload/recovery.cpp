// recovery.cpp - the recovery policy (see recovery.hpp).
#include "bucketfs/upload/recovery.hpp"

#include <ctime>
#include <map>
#include <set>

namespace bucketfs::upload {

checkpoint::UploadRecord fresh_record(const ClosedFile& f, const std::string& bucket) {
  checkpoint::UploadRecord r;
  r.key = f.mark.key;
  r.bucket = bucket;
  r.staging_path = f.staging_path;
  r.size = f.mark.size;
  r.mtime_ns = f.mark.mtime_ns;
  r.generation = f.mark.generation;
  r.meta = f.mark.meta;
  r.content_type = f.mark.content_type;
  r.state = checkpoint::UploadState::Pending;
  r.created = r.updated = std::time(nullptr);
  return r;
}

namespace {

bool under_prefix(const std::string& key, const std::string& prefix) {
  return key.compare(0, prefix.size(), prefix) == 0 && key.size() > prefix.size();
}

bool describes(const checkpoint::UploadRecord& r, const ClosedFile& f) {
  return r.key == f.mark.key && r.generation == f.mark.generation && r.staging_path == f.staging_path &&
         r.size == f.mark.size && r.mtime_ns == f.mark.mtime_ns;
}

}  // namespace

namespace {

using Newest = std::map<std::string, const stage::StagedEntry*>;

// Adds e to the failed table's new entries, unless it is reported already.
void report(RecoveryPlan* plan, const std::set<std::string>& reported, const std::string& bucket,
            const stage::StagedEntry& e, const std::string& reason) {
  if (reported.count(e.path)) return;
  RecoveryPlan::Failed f;
  f.record.key = e.mark.key.empty() ? e.path : e.mark.key;
  f.record.bucket = bucket;
  f.record.staging_path = e.path;
  f.record.generation = e.mark.generation;
  f.record.size = e.mark.size;
  f.record.meta = e.mark.meta;
  f.reason = reason;
  plan->failed.push_back(std::move(f));
}

// The newest closed version of each key; every other staged file goes to
// plan->remove. A damaged mark is reported (its key cannot be known).
Newest newest_versions(const std::vector<stage::StagedEntry>& staged, RecoveryPlan* plan,
                       const std::set<std::string>& reported, const std::string& bucket) {
  Newest newest;
  for (const auto& e : staged) {
    if (e.state == stage::MarkState::None) {
      plan->remove.push_back(e.path);
      continue;
    }
    if (e.state == stage::MarkState::Damaged) {
      report(plan, reported, bucket, e, e.problem);
      continue;
    }
    auto [it, inserted] = newest.emplace(e.mark.key, &e);
    if (inserted) continue;
    if (e.mark.generation > it->second->mark.generation) {
      plan->remove.push_back(it->second->path);
      it->second = &e;
    } else {
      plan->remove.push_back(e.path);
    }
  }
  return newest;
}

}  // namespace

RecoveryPlan plan_recovery(const std::vector<stage::StagedEntry>& staged,
                           const std::vector<checkpoint::UploadRecord>& records,
                           const std::vector<checkpoint::UploadRecord>& failed, const std::string& prefix,
                           const std::string& bucket) {
  RecoveryPlan plan;
  std::set<std::string> reported;
  for (const auto& f : failed) reported.insert(f.staging_path);
  std::map<std::string, const checkpoint::UploadRecord*> by_key, failed_by_key;
  for (const auto& r : records) by_key[r.key] = &r;
  for (const auto& r : failed) failed_by_key[r.key] = &r;

  for (const auto& [key, e] : newest_versions(staged, &plan, reported, bucket)) {
    // One that changed after its close still counts as the newest: it is
    // reported, and no older one is uploaded in its place.
    if (e->state == stage::MarkState::Changed) {
      report(&plan, reported, bucket, *e, e->problem);
      continue;
    }
    if (!under_prefix(key, prefix)) {
      report(&plan, reported, bucket, *e,
             "the staging file " + e->path + " names the key '" + key + "', outside the mount's prefix '" +
                 prefix + "'");
      continue;
    }
    RecoveryPlan::Resume u;
    u.file = ClosedFile{e->path, e->mark};
    auto rec = by_key.find(key);
    if (rec != by_key.end()) {
      if (u.file.mark.legacy && rec->second->generation == u.file.mark.generation) {
        // An older bucketfs kept the metadata only in the record.
        u.file.mark.meta = rec->second->meta;
        u.file.mark.content_type = rec->second->content_type;
      }
      if (describes(*rec->second, u.file)) {
        u.progress = *rec->second;
        by_key.erase(rec);
      }
    }
    if (!u.progress) {
      // An upload that gave up (its budget spent) is tried again at a mount.
      auto f = failed_by_key.find(key);
      if (f != failed_by_key.end() && describes(*f->second, u.file)) {
        u.progress = *f->second;
        u.progress->state =
            u.progress->upload_id.empty() ? checkpoint::UploadState::Pending : checkpoint::UploadState::Uploading;
        u.progress->attempts = 0;
        u.progress->last_error.clear();
        plan.unfail.push_back(key);
      }
    }
    plan.uploads.push_back(std::move(u));
  }
  // Whatever records are left describe no closed file: a confirmed upload
  // whose removal was lost, an unlinked or renamed file, a superseded version.
  for (const auto& [key, r] : by_key) plan.stale_records.push_back(*r);
  return plan;
}

}  // namespace bucketfs::upload
