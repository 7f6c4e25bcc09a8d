// memory_object_store.hpp - an in-process ObjectStore for unit tests.
//
// Behaves like S3: flat keys, ListObjectsV2 semantics (prefix, delimiter,
// continuation, max_keys), multipart uploads with parts assembled at complete
// (EntityTooSmall for a non-last part below min_part_size), NoSuchUpload after
// complete/abort, metadata replace on copy. Verifies checksums like a server
// with flexible checksums (CRC-32C; CRC-64/ECMA for the OSS dialect): a given
// MD5 or CRC that does not match the bytes is refused (Integrity), HEAD
// reports the whole object's CRC. Capabilities can be switched off and ETags
// made to look like other servers' (EtagStyle) to act like s3rver, OSS or an
// SSE-KMS bucket. Thread-safe (one mutex). Counts calls per operation so
// tests can assert what was (not) re-sent.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::store {

class MemoryObjectStore : public ObjectStore {
 public:
  explicit MemoryObjectStore(uint64_t min_part_size = 5 * 1024 * 1024, Dialect d = Dialect::S3);

  void set_capabilities(const Capabilities& caps);

  // How ETags look: MD5s (S3, RGW), upper-case MD5s (OSS), opaque 32 hex
  // digits (SSE-KMS), or a multipart object's plain MD5 (s3rver).
  enum class EtagStyle { Md5, UpperMd5, Opaque, PlainMultipart };
  void set_etag_style(EtagStyle s);
  // false: HEAD reports no whole-object checksum (RGW 16, s3rver).
  void set_reports_checksums(bool on);
  // true: checksum_plan() asks for an MD5 of every body, as a server that
  // verifies only Content-MD5 does (RGW 16, s3rver). A part that arrives with
  // one also counts as "upload_part_md5_given".
  void set_wants_md5(bool on);
  // Direct access for test set-up and checks (bypasses counters).
  void put_object(const std::string& key, const std::string& data, const Metadata& meta = {});
  std::optional<std::string> object_data(const std::string& key) const;
  std::optional<ObjectInfo> object_info(const std::string& key) const;
  size_t object_count() const;
  size_t open_upload_count() const;
  // Number of calls of an operation: "head", "get", "put", "remove", "copy",
  // "list", "create_multipart", "upload_part", "upload_part_copy",
  // "complete_multipart", "abort_multipart", "list_parts", "list_uploads"
  // (and "upload_part_md5_given", see set_wants_md5).
  int calls(const std::string& op) const;
  void reset_counters();

  // Test hook (the crash-state harness, tests/crash/): called under the
  // store's mutex right after a request changed the bucket, so a recorder
  // sees the changes in the order they took effect. Pointers are valid only
  // during the call. Set it before any request.
  struct Change {
    const char* op;                                // as in calls(); copy: "copy"
    const std::string& key;                        // the key changed (copy: the destination)
    const std::string& upload_id;                  // multipart operations, else ""
    int part = 0;                                  // upload_part(_copy)
    const std::string* data = nullptr;             // put/put_bytes: the object; upload_part(_copy): the part
    const Metadata* meta = nullptr;                // put/put_bytes/create_multipart; copy with replace
    const std::string* content_type = nullptr;     // with meta
    const std::string* src_key = nullptr;          // copy
    const std::vector<PartInfo>* parts = nullptr;  // complete_multipart
  };
  void set_observer(std::function<void(const Change&)> observer);
  // Test hook: this store's objects, open uploads and upload-id counter
  // become a copy of other's (its counters, capabilities and observer stay).
  void assign_state(const MemoryObjectStore& other);

  Dialect dialect() const override;
  uint64_t min_part_size() const override;
  Capabilities capabilities() const override;
  ChecksumPlan checksum_plan() const override;
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
  struct Object {
    std::string data;
    Metadata meta;
    std::string content_type;
    std::string etag;
    std::time_t mtime = 0;
    Crc crc;  // of the data, in the store's algorithm
  };
  struct Upload {
    std::string key;
    Metadata meta;
    std::string content_type;
    ChecksumAlgo algo = ChecksumAlgo::None;
    std::map<int, std::string> parts;
    std::time_t initiated = 0;
  };
  void count(const char* op) const;
  void notify(const Change& c) const {
    if (observer_) observer_(c);
  }
  // Locked helpers.
  std::string etag_for(const std::string& md5_hex) const;
  std::optional<Error> check_known(const std::string& data, const BodyChecksums& known, ChecksumAlgo algo) const;
  Object make_object(std::string data, const PutOptions& opts) const;
  ObjectInfo info_of(const std::string& key, const Object& o, bool with_checksum) const;
  ChecksumAlgo algo() const;

  mutable std::mutex mu_;
  uint64_t min_part_size_;
  Dialect dialect_;
  Capabilities caps_;
  EtagStyle etag_style_ = EtagStyle::Md5;
  bool reports_checksums_ = true;
  bool wants_md5_ = false;
  std::map<std::string, Object> objects_;
  std::map<std::string, Upload> uploads_;  // by upload id
  uint64_t next_upload_ = 1;
  mutable std::map<std::string, int> calls_;
  std::function<void(const Change&)> observer_;
};

}  // namespace bucketfs::store
