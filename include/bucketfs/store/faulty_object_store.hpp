// faulty_object_store.hpp - wraps an ObjectStore and injects failures, for tests.
//
// Rules are checked on every call, in order:
//  - fail_next(op, n, error): the next n calls of op fail with error without
//    reaching the inner store;
//  - crash_after(k, after_inner): the k-th call from now (any op, 1-based) is
//    the last one: with after_inner it reaches the inner store first (the
//    server did the work but the answer is lost), otherwise not; from then on
//    every call fails Transient without reaching the inner store ("the process
//    is dead"), until revive().
// Thread-safe. Counts are per operation name as in MemoryObjectStore::calls.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::store {

class FaultyObjectStore : public ObjectStore {
 public:
  explicit FaultyObjectStore(ObjectStore& inner) : inner_(inner) {}

  void fail_next(const std::string& op, int n, Error e);
  void crash_after(int k, bool after_inner);
  void revive();
  bool crashed() const;
  // Calls seen so far (all, including failed ones).
  int calls() const;

  Dialect dialect() const override { return inner_.dialect(); }
  uint64_t min_part_size() const override { return inner_.min_part_size(); }
  Capabilities capabilities() const override { return inner_.capabilities(); }
  ChecksumPlan checksum_plan() const override { return inner_.checksum_plan(); }
  StoreResult<void> check_bucket(const std::string& prefix) override;
  StoreResult<ObjectInfo> head(const std::string& key) override;
  StoreResult<uint64_t> get(const std::string& key, uint64_t offset, uint64_t length,
                            const ByteSink& sink) override;
  StoreResult<std::string> put(const std::string& key, const FileRange& body, const PutOptions& opts) override;
  StoreResult<std::string> put_bytes(const std::string& key, const std::string& body,
                                     const PutOptions& opts) override;
  StoreResult<void> remove(const std::string& key) override;
  StoreResult<std::string> copy(const std::string& src, const std::string& dst,
                                const std::optional<PutOptions>& replace) override;
  StoreResult<ListPage> list(const ListRequest& req) override;
  using ObjectStore::upload_part;
  StoreResult<MultipartUpload> create_upload(const std::string& key, const PutOptions& opts) override;
  StoreResult<PartInfo> upload_part(const std::string& key, const MultipartUpload& upload, int part_number,
                                    const FileRange& body, const BodyChecksums& known) override;
  StoreResult<PartInfo> upload_part_copy(const std::string& key, const std::string& upload_id, int part_number,
                                         const std::string& src_key, uint64_t offset, uint64_t length) override;
  StoreResult<std::string> complete_upload(const std::string& key, const MultipartUpload& upload,
                                           const std::vector<PartInfo>& parts) override;
  StoreResult<void> abort_multipart(const std::string& key, const std::string& upload_id) override;
  StoreResult<ListPartsPage> list_parts(const std::string& key, const std::string& upload_id, int marker,
                                        int max_parts) override;
  StoreResult<ListUploadsPage> list_uploads(const std::string& prefix, const std::string& key_marker,
                                            const std::string& upload_id_marker) override;

 private:
  // What to do with a call: 0 pass through, 1 fail before inner, 2 run inner then fail.
  int decide(const char* op, Error* e);
  template <class F>
  auto wrap(const char* op, F&& f) -> decltype(f());

  ObjectStore& inner_;
  mutable std::mutex mu_;
  std::map<std::string, std::pair<int, Error>> fail_next_;
  int crash_countdown_ = 0;  // 0: no crash planned
  bool crash_after_inner_ = false;
  bool crashed_ = false;
  int calls_ = 0;
};

}  // namespace bucketfs::store
