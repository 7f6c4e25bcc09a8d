// checker.cpp - see checker.hpp.
#include "checker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <thread>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "observed_store.hpp"

namespace crash {

using namespace bucketfs;
using Clock = std::chrono::steady_clock;

namespace {

// What recovery asked of the store, per key.
struct KeyStats {
  int requests = 0;
  int completed = 0;           // objects written (put, complete)
  std::set<std::string> open;  // multipart uploads created during recovery and still open
  std::string concurrent;      // a second upload created while one was open: its description
};

struct Accounting {
  std::mutex mu;
  std::map<std::string, KeyStats> keys;
  std::set<std::string> created;  // upload ids recovery created

  void on(const Request& r) {
    std::lock_guard lk(mu);
    KeyStats& k = keys[r.key];
    ++k.requests;
    if (!r.ok) return;
    std::string op = r.op;
    if (op == "create_multipart") {
      if (!k.open.empty() && k.concurrent.empty())
        k.concurrent = "upload " + r.upload_id + " created while " + *k.open.begin() + " was still open";
      k.open.insert(r.upload_id);
      created.insert(r.upload_id);
    } else if (op == "complete_multipart") {
      k.open.erase(r.upload_id);
      ++k.completed;
    } else if (op == "abort_multipart") {
      k.open.erase(r.upload_id);
    } else if (op == "put") {
      ++k.completed;
    }
  }
};

// Upload ids the crash state's records own (read before recovery changes them).
std::set<std::string> recorded_uploads(const std::string& checkpoint_dir) {
  std::set<std::string> out;
  auto cp = checkpoint::CheckpointStore::open(checkpoint_dir, true);
  if (!cp) return out;
  if (auto loaded = (*cp)->load_all())
    for (const auto& r : loaded->good)
      if (!r.upload_id.empty()) out.insert(r.upload_id);
  return out;
}

std::vector<store::UploadInfo> open_uploads(store::ObjectStore& s) {
  std::vector<store::UploadInfo> out;
  std::string key_marker, id_marker;
  for (;;) {
    auto page = s.list_uploads("", key_marker, id_marker);
    if (!page) break;
    out.insert(out.end(), page->uploads.begin(), page->uploads.end());
    if (!page->truncated) break;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
  return out;
}

}  // namespace

Checker::Checker(CheckConfig cfg) : cfg_(std::move(cfg)) {}

std::vector<std::string> Checker::new_log_lines() {
  std::vector<std::string> out;
  int fd = ::open(cfg_.log_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  std::string buf;
  char chunk[8192];
  ssize_t n;
  while ((n = ::pread(fd, chunk, sizeof chunk, log_offset_ + static_cast<long>(buf.size()))) > 0)
    buf.append(chunk, static_cast<size_t>(n));
  ::close(fd);
  size_t end = buf.rfind('\n');
  if (end == std::string::npos) return out;
  log_offset_ += static_cast<long>(end + 1);
  size_t pos = 0;
  while (pos <= end) {
    size_t nl = buf.find('\n', pos);
    std::string line = buf.substr(pos, nl - pos);
    if (line.find(" WARN: ") != std::string::npos || line.find(" ERROR: ") != std::string::npos)
      out.push_back(line.substr(line.find("] ") == std::string::npos ? 0 : line.find("] ") + 2));
    pos = nl + 1;
  }
  return out;
}

std::map<std::string, Object> Checker::snapshot(store::MemoryObjectStore& s) {
  std::map<std::string, Object> out;
  store::ListRequest req;
  auto all = store::list_all(s, req);
  if (!all) return out;
  for (const auto& o : all->objects) {
    auto info = s.object_info(o.key);
    if (!info) continue;
    std::string& sha = sha_by_etag_[info->etag + "/" + std::to_string(info->size)];
    if (sha.empty()) sha = sha256_hex(s.object_data(o.key).value_or(""));
    out[o.key] = Object{sha, info->size, info->meta};
  }
  return out;
}

Verdict Checker::check(const FsState& st, const store::MemoryObjectStore& bucket, const Expectations& exp) {
  Verdict v;
  new_log_lines();  // skip whatever came before this state
  std::string err;
  if (!remove_tree(cfg_.mount.cache_dir, &err) || !(err = st.materialize(cfg_.mount.cache_dir)).empty()) {
    v.violations.push_back({"harness", "", err});
    return v;
  }
  const std::set<std::string> owned = recorded_uploads(state_dir_of(cfg_.mount) + "/checkpoint");
  store::MemoryObjectStore recovered(bucket.min_part_size());
  recovered.assign_state(bucket);
  std::set<std::string> before;
  for (const auto& u : open_uploads(recovered)) before.insert(u.upload_id);

  Accounting acc;
  ObservedStore observed(recovered, [&](const Request& r) { acc.on(r); });
  auto mounted = mount(cfg_.mount, observed);
  if (!mounted) {
    v.violations.push_back({"mount-failed", "", mounted.error()});
    v.log = new_log_lines();
    return v;
  }
  auto m = std::move(mounted.value());
  const auto deadline = Clock::now() + cfg_.timeout;
  for (;;) {
    if (m->uploader->idle()) break;
    bool failed = false;
    for (const auto& line : new_log_lines()) {
      v.log.push_back(line);
      if (line.find("upload failed:") != std::string::npos) failed = true;
    }
    if (failed) {
      v.violations.push_back({"upload-failed", "", "an upload pass failed during recovery (see the log lines)"});
      break;
    }
    if (Clock::now() > deadline) {
      std::string keys;
      for (const auto& p : m->uploader->pending()) keys += " " + p.mark.key;
      v.violations.push_back(
          {"recovery-stuck", "",
           "uploads still pending after " + std::to_string(cfg_.timeout.count()) + " ms:" + keys});
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  unmount(std::move(m), std::chrono::seconds(5));
  for (const auto& line : new_log_lines()) v.log.push_back(line);

  const uint64_t part = cfg_.mount.part_size;
  for (const auto& [key, k] : acc.keys) {
    if (!k.concurrent.empty()) v.violations.push_back({"two-jobs", key, k.concurrent});
    if (k.completed > 1)
      v.violations.push_back(
          {"two-jobs", key, "written " + std::to_string(k.completed) + " times during recovery"});
    const uint64_t parts = std::max<uint64_t>(1, (exp.max_size(key) + part - 1) / part);
    if (static_cast<uint64_t>(k.requests) > 3 * parts + 10)
      v.violations.push_back({"request-loop", key,
                              std::to_string(k.requests) + " requests during recovery for at most " +
                                  std::to_string(parts) + " parts (bound " + std::to_string(3 * parts + 10) +
                                  ")"});
  }
  for (const auto& u : open_uploads(recovered)) {
    if (acc.created.count(u.upload_id))
      v.violations.push_back(
          {"open-upload", u.key, "recovery created upload " + u.upload_id + " and left it open"});
    else if (owned.count(u.upload_id))
      v.violations.push_back({"open-upload", u.key, "upload " + u.upload_id + " of a record was left open"});
    else if (before.count(u.upload_id))
      ++v.orphans;
  }
  for (auto& x : exp.check(snapshot(recovered))) v.violations.push_back(std::move(x));
  return v;
}

}  // namespace crash
