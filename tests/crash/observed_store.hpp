// observed_store.hpp - an ObjectStore decorator for the crash harness: every
// request is reported (op, key, upload id, whether it succeeded) to a
// callback after it returns, and mutating requests can be slowed down (so
// that, in the recorded run, uploads lag behind the workload and many files
// are pending at once).
// Thread-safety: as the inner store; the callback is called from the calling
// thread, outside any lock of this class.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "bucketfs/store/object_store.hpp"

namespace crash {

struct Request {
  const char* op;  // as MemoryObjectStore::calls names them
  std::string key;
  std::string upload_id;  // create_multipart: the new id
  bool ok = true;
};

class ObservedStore : public bucketfs::store::ObjectStore {
 public:
  using Callback = std::function<void(const Request&)>;
  ObservedStore(bucketfs::store::ObjectStore& inner, Callback cb, std::chrono::microseconds mutation_delay = {})
      : inner_(inner), cb_(std::move(cb)), delay_(mutation_delay) {}

  bucketfs::store::Dialect dialect() const override { return inner_.dialect(); }
  uint64_t min_part_size() const override { return inner_.min_part_size(); }
  bucketfs::store::Capabilities capabilities() const override { return inner_.capabilities(); }
  bucketfs::store::ChecksumPlan checksum_plan() const override { return inner_.checksum_plan(); }
  bucketfs::store::StoreResult<void> check_bucket(const std::string& prefix) override;
  bucketfs::store::StoreResult<bucketfs::store::ObjectInfo> head(const std::string& key) override;
  bucketfs::store::StoreResult<uint64_t> get(const std::string& key, uint64_t offset, uint64_t length,
                                             const bucketfs::store::ByteSink& sink) override;
  bucketfs::store::StoreResult<std::string> put(const std::string& key, const bucketfs::store::FileRange& body,
                                                const bucketfs::store::PutOptions& opts) override;
  bucketfs::store::StoreResult<std::string> put_bytes(const std::string& key, const std::string& body,
                                                      const bucketfs::store::PutOptions& opts) override;
  bucketfs::store::StoreResult<void> remove(const std::string& key) override;
  bucketfs::store::StoreResult<std::string> copy(
      const std::string& src, const std::string& dst,
      const std::optional<bucketfs::store::PutOptions>& replace) override;
  bucketfs::store::StoreResult<bucketfs::store::ListPage> list(const bucketfs::store::ListRequest& req) override;
  bucketfs::store::StoreResult<bucketfs::store::MultipartUpload> create_upload(
      const std::string& key, const bucketfs::store::PutOptions& opts) override;
  bucketfs::store::StoreResult<bucketfs::store::PartInfo> upload_part(
      const std::string& key, const bucketfs::store::MultipartUpload& upload, int part_number,
      const bucketfs::store::FileRange& body, const bucketfs::store::BodyChecksums& known) override;
  bucketfs::store::StoreResult<bucketfs::store::PartInfo> upload_part_copy(
      const std::string& key, const std::string& upload_id, int part_number, const std::string& src_key,
      uint64_t offset, uint64_t length) override;
  bucketfs::store::StoreResult<std::string> complete_upload(
      const std::string& key, const bucketfs::store::MultipartUpload& upload,
      const std::vector<bucketfs::store::PartInfo>& parts) override;
  bucketfs::store::StoreResult<void> abort_multipart(const std::string& key,
                                                     const std::string& upload_id) override;
  bucketfs::store::StoreResult<bucketfs::store::ListPartsPage> list_parts(const std::string& key,
                                                                          const std::string& upload_id, int marker,
                                                                          int max_parts) override;
  bucketfs::store::StoreResult<bucketfs::store::ListUploadsPage> list_uploads(
      const std::string& prefix, const std::string& key_marker, const std::string& upload_id_marker) override;

 private:
  template <class R>
  R report(const char* op, const std::string& key, const std::string& upload_id, R r, bool mutation);

  bucketfs::store::ObjectStore& inner_;
  Callback cb_;
  std::chrono::microseconds delay_;
};

}  // namespace crash
