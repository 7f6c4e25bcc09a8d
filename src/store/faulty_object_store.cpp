// faulty_object_store.cpp - see faulty_object_store.hpp.
#include "bucketfs/store/faulty_object_store.hpp"

namespace bucketfs::store {

void FaultyObjectStore::fail_next(const std::string& op, int n, Error e) {
  std::lock_guard lock(mu_);
  fail_next_[op] = {n, std::move(e)};
}

void FaultyObjectStore::crash_after(int k, bool after_inner) {
  std::lock_guard lock(mu_);
  crash_countdown_ = k;
  crash_after_inner_ = after_inner;
}

void FaultyObjectStore::revive() {
  std::lock_guard lock(mu_);
  crashed_ = false;
  crash_countdown_ = 0;
}

bool FaultyObjectStore::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

int FaultyObjectStore::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

int FaultyObjectStore::decide(const char* op, Error* e) {
  std::lock_guard lock(mu_);
  ++calls_;
  *e = Error{ErrorCode::Transient, 0, "", "injected: process crashed", ""};
  if (crashed_) return 1;
  if (crash_countdown_ > 0 && --crash_countdown_ == 0) {
    crashed_ = true;
    return crash_after_inner_ ? 2 : 1;
  }
  auto it = fail_next_.find(op);
  if (it != fail_next_.end() && it->second.first > 0) {
    --it->second.first;
    *e = it->second.second;
    return 1;
  }
  return 0;
}

template <class F>
auto FaultyObjectStore::wrap(const char* op, F&& f) -> decltype(f()) {
  Error e;
  int d = decide(op, &e);
  if (d == 1) return e;
  auto r = f();
  if (d == 2) return e;
  return r;
}

StoreResult<void> FaultyObjectStore::check_bucket(const std::string& prefix) {
  return wrap("check_bucket", [&] { return inner_.check_bucket(prefix); });
}
StoreResult<ObjectInfo> FaultyObjectStore::head(const std::string& key) {
  return wrap("head", [&] { return inner_.head(key); });
}
StoreResult<uint64_t> FaultyObjectStore::get(const std::string& key, uint64_t offset, uint64_t length,
                                             const ByteSink& sink) {
  return wrap("get", [&] { return inner_.get(key, offset, length, sink); });
}
StoreResult<std::string> FaultyObjectStore::put(const std::string& key, const FileRange& body,
                                                const PutOptions& opts) {
  return wrap("put", [&] { return inner_.put(key, body, opts); });
}
StoreResult<std::string> FaultyObjectStore::put_bytes(const std::string& key, const std::string& body,
                                                      const PutOptions& opts) {
  return wrap("put", [&] { return inner_.put_bytes(key, body, opts); });
}
StoreResult<void> FaultyObjectStore::remove(const std::string& key) {
  return wrap("remove", [&] { return inner_.remove(key); });
}
StoreResult<std::string> FaultyObjectStore::copy(const std::string& src, const std::string& dst,
                                                 const std::optional<PutOptions>& replace) {
  return wrap("copy", [&] { return inner_.copy(src, dst, replace); });
}
StoreResult<ListPage> FaultyObjectStore::list(const ListRequest& req) {
  return wrap("list", [&] { return inner_.list(req); });
}
StoreResult<MultipartUpload> FaultyObjectStore::create_upload(const std::string& key, const PutOptions& opts) {
  return wrap("create_multipart", [&] { return inner_.create_upload(key, opts); });
}
StoreResult<PartInfo> FaultyObjectStore::upload_part(const std::string& key, const MultipartUpload& upload,
                                                     int part_number, const FileRange& body,
                                                     const BodyChecksums& known) {
  return wrap("upload_part", [&] { return inner_.upload_part(key, upload, part_number, body, known); });
}
StoreResult<PartInfo> FaultyObjectStore::upload_part_copy(const std::string& key, const std::string& upload_id,
                                                          int part_number, const std::string& src_key,
                                                          uint64_t offset, uint64_t length) {
  return wrap("upload_part_copy",
              [&] { return inner_.upload_part_copy(key, upload_id, part_number, src_key, offset, length); });
}
StoreResult<std::string> FaultyObjectStore::complete_upload(const std::string& key, const MultipartUpload& upload,
                                                            const std::vector<PartInfo>& parts) {
  return wrap("complete_multipart", [&] { return inner_.complete_upload(key, upload, parts); });
}
StoreResult<void> FaultyObjectStore::abort_multipart(const std::string& key, const std::string& upload_id) {
  return wrap("abort_multipart", [&] { return inner_.abort_multipart(key, upload_id); });
}
StoreResult<ListPartsPage> FaultyObjectStore::list_parts(const std::string& key, const std::string& upload_id,
                                                         int marker, int max_parts) {
  return wrap("list_parts", [&] { return inner_.list_parts(key, upload_id, marker, max_parts); });
}
StoreResult<ListUploadsPage> FaultyObjectStore::list_uploads(const std::string& prefix,
                                                             const std::string& key_marker,
                                                             const std::string& upload_id_marker) {
  return wrap("list_uploads", [&] { return inner_.list_uploads(prefix, key_marker, upload_id_marker); });
}

}  // namespace bucketfs::store
