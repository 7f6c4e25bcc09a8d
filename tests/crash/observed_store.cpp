// observed_store.cpp - see observed_store.hpp.
#include "observed_store.hpp"

#include <thread>

namespace crash {

namespace st = bucketfs::store;

template <class R>
R ObservedStore::report(const char* op, const std::string& key, const std::string& upload_id, R r, bool mutation) {
  if (mutation && delay_.count() > 0) std::this_thread::sleep_for(delay_);
  if (cb_) cb_(Request{op, key, upload_id, static_cast<bool>(r)});
  return r;
}

st::StoreResult<void> ObservedStore::check_bucket(const std::string& prefix) {
  return report("check_bucket", prefix, "", inner_.check_bucket(prefix), false);
}
st::StoreResult<st::ObjectInfo> ObservedStore::head(const std::string& key) {
  return report("head", key, "", inner_.head(key), false);
}
st::StoreResult<uint64_t> ObservedStore::get(const std::string& key, uint64_t offset, uint64_t length,
                                             const st::ByteSink& sink) {
  return report("get", key, "", inner_.get(key, offset, length, sink), false);
}
st::StoreResult<std::string> ObservedStore::put(const std::string& key, const st::FileRange& body,
                                                const st::PutOptions& opts) {
  return report("put", key, "", inner_.put(key, body, opts), true);
}
st::StoreResult<std::string> ObservedStore::put_bytes(const std::string& key, const std::string& body,
                                                      const st::PutOptions& opts) {
  return report("put", key, "", inner_.put_bytes(key, body, opts), true);
}
st::StoreResult<void> ObservedStore::remove(const std::string& key) {
  return report("remove", key, "", inner_.remove(key), true);
}
st::StoreResult<std::string> ObservedStore::copy(const std::string& src, const std::string& dst,
                                                 const std::optional<st::PutOptions>& replace) {
  return report("copy", dst, "", inner_.copy(src, dst, replace), true);
}
st::StoreResult<st::ListPage> ObservedStore::list(const st::ListRequest& req) {
  return report("list", req.prefix, "", inner_.list(req), false);
}
st::StoreResult<st::MultipartUpload> ObservedStore::create_upload(const std::string& key,
                                                                  const st::PutOptions& opts) {
  auto r = inner_.create_upload(key, opts);
  const std::string id = r ? r->upload_id : "";
  return report("create_multipart", key, id, std::move(r), true);
}
st::StoreResult<st::PartInfo> ObservedStore::upload_part(const std::string& key, const st::MultipartUpload& upload,
                                                         int part_number, const st::FileRange& body,
                                                         const st::BodyChecksums& known) {
  return report("upload_part", key, upload.upload_id, inner_.upload_part(key, upload, part_number, body, known),
                true);
}
st::StoreResult<st::PartInfo> ObservedStore::upload_part_copy(const std::string& key, const std::string& upload_id,
                                                              int part_number, const std::string& src_key,
                                                              uint64_t offset, uint64_t length) {
  return report("upload_part_copy", key, upload_id,
                inner_.upload_part_copy(key, upload_id, part_number, src_key, offset, length), true);
}
st::StoreResult<std::string> ObservedStore::complete_upload(const std::string& key,
                                                            const st::MultipartUpload& upload,
                                                            const std::vector<st::PartInfo>& parts) {
  return report("complete_multipart", key, upload.upload_id, inner_.complete_upload(key, upload, parts), true);
}
st::StoreResult<void> ObservedStore::abort_multipart(const std::string& key, const std::string& upload_id) {
  return report("abort_multipart", key, upload_id, inner_.abort_multipart(key, upload_id), true);
}
st::StoreResult<st::ListPartsPage> ObservedStore::list_parts(const std::string& key, const std::string& upload_id,
                                                             int marker, int max_parts) {
  return report("list_parts", key, upload_id, inner_.list_parts(key, upload_id, marker, max_parts), false);
}
st::StoreResult<st::ListUploadsPage> ObservedStore::list_uploads(const std::string& prefix,
                                                                 const std::string& key_marker,
                                                                 const std::string& upload_id_marker) {
  return report("list_uploads", prefix, "", inner_.list_uploads(prefix, key_marker, upload_id_marker), false);
}

}  // namespace crash
