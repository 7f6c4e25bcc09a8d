// object_store.hpp - what bucketfs needs of a bucket, as an abstract interface.
//
// Implementations: HttpObjectStore (S3 and OSS over HTTP), MemoryObjectStore
// (in-process, for tests) and FaultyObjectStore (wraps another and injects
// failures). Keys are relative to the bucket (no leading '/').
// Thread-safety: every implementation may be called from many threads at once.
// Errors: every operation returns a typed store::Error (errors.hpp); none throws
// except std::bad_alloc.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bucketfs/store/errors.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::store {

template <class T>
using StoreResult = Result<T, Error>;

// User metadata without the x-amz-meta-/x-oss-meta- prefix, names lower-case.
using Metadata = std::map<std::string, std::string>;

// --- checksums -------------------------------------------------------------
//
// Integrity never rests on an ETag being an MD5 (SSE-KMS and SSE-C ETags are
// not; OSS sends upper case; some servers give a multipart object the plain
// MD5). Every body sent carries a checksum the server verifies:
//  - OSS: CRC-64/ECMA; the server returns x-oss-hash-crc64ecma for every
//    part and object and the store compares it (plus Content-MD5 with
//    checksum=md5).
//  - S3 with flexible checksums (AWS, recent RGW/MinIO): x-amz-checksum-crc32c
//    (or crc64nvme) on every body, declared on CreateMultipartUpload as a
//    FULL_OBJECT checksum; Complete carries the whole-object value combined
//    from the parts' and the server checks it.
//  - other S3 servers: Content-MD5 on every body (the server refuses a body
//    that does not match), and an ETag the answer presents as a plain MD5
//    (no SSE-KMS/SSE-C in the answer) must equal the MD5 sent.
// Which S3 kind a server is, is learnt from its first answer to a body (both
// are sent until then) and kept in Capabilities.

enum class ChecksumAlgo : uint8_t { None = 0, Crc32c = 1, Crc64Nvme = 2, Crc64Ecma = 3 };
const char* name(ChecksumAlgo a);

// A CRC and its algorithm (CRC-32C in the low 32 bits).
struct Crc {
  ChecksumAlgo algo = ChecksumAlgo::None;
  uint64_t value = 0;
  bool known() const { return algo != ChecksumAlgo::None; }
  friend bool operator==(const Crc&, const Crc&) = default;
};

// What a caller knows of a body's bytes, computed as they were written
// (issue 13's write path): the store sends these values instead of
// computing its own, so the server verifies the bytes as they were written,
// not as they were read back. Anything left empty the store computes.
struct BodyChecksums {
  std::string md5;  // lower-case hex, or ""
  Crc crc;          // ignored unless its algorithm is the one the store sends
};

// What a body must carry on this store now (see checksum_plan()).
struct ChecksumPlan {
  ChecksumAlgo crc = ChecksumAlgo::None;
  bool md5 = false;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes, as the server sent it (case kept)
  std::time_t last_modified = 0;
  std::string content_type;
  Metadata meta;  // only filled by head(); listings carry none
  // Filled by head() only, from what the server reports ({} keeps older
  // aggregate initialisations free of missing-initializer warnings):
  Crc checksum{};                // whole-object checksum, when the server gives one
  int checksum_parts = 0;        // > 0: an S3 COMPOSITE checksum of that many parts ("...-N")
  std::string storage_class{};   // "" = the server's default
  std::string sse{};             // "AES256", "aws:kms", "KMS", "SM4", "SSE-C"; "" = not encrypted (or not said)
  std::string sse_kms_key_id{};  // the KMS key when sse is a KMS mode and the server names it
};

struct PutOptions {
  Metadata meta;
  std::string content_type;   // empty: from the key's extension (util/mime_types), else application/octet-stream
  BodyChecksums checksums{};  // put(): what the caller knows of the body (see BodyChecksums)
};

// A byte range of an open local file; the store reads it with pread and never
// holds the whole range in memory.
struct FileRange {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct ListRequest {
  std::string prefix;
  std::string delimiter;           // "/" for directory listings, empty for recursive
  std::string continuation_token;  // from the previous page
  std::string start_after;
  int max_keys = 1000;
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;  // full keys ending in the delimiter
  bool truncated = false;
  std::string next_token;  // pass back as continuation_token
};

struct PartInfo {
  int number = 0;
  uint64_t size = 0;
  std::string etag;  // without quotes
  std::string md5;   // lower-case hex of the bytes sent, when computed locally
  Crc crc{};         // the part's checksum in the upload's algorithm, when it has one
};

// A multipart upload as created: its id and the checksum algorithm declared
// for it (None: parts carry Content-MD5 only). Both belong in the uploader's
// record: parts of a resumed upload must carry the same algorithm.
struct MultipartUpload {
  std::string upload_id;
  ChecksumAlgo algo = ChecksumAlgo::None;
};

struct ListPartsPage {
  std::vector<PartInfo> parts;
  bool truncated = false;
  int next_marker = 0;
};

struct UploadInfo {
  std::string key;
  std::string upload_id;
  std::time_t initiated = 0;
};

struct ListUploadsPage {
  std::vector<UploadInfo> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

// How an S3 server verifies bodies (see "checksums" above).
enum class BodyCheck : uint8_t { Unknown, Flexible, ContentMd5 };

// Operations a server may lack; learnt from its answers and remembered.
struct Capabilities {
  bool list_parts = true;
  bool abort_multipart = true;
  bool upload_part_copy = true;
  bool list_uploads = true;
  bool list_v2 = true;  // false: ListObjects V1 (marker) listings
  BodyCheck body_check = BodyCheck::Unknown;
};

// Receives GET body bytes in order; return false to stop (reported as Cancelled).
using ByteSink = std::function<bool(const char* data, size_t n)>;

// Which flavour of the protocol an object store speaks.
enum class Dialect { S3, OSS };

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Dialect dialect() const = 0;
  // Smallest part (except the last) the server accepts: 5 MiB S3, 100 KiB OSS.
  virtual uint64_t min_part_size() const = 0;
  virtual Capabilities capabilities() const = 0;
  // The checksums a body sent now should carry, so a caller that computes
  // them as the bytes arrive computes the right ones (never MD5 where the
  // server does not need it).
  virtual ChecksumPlan checksum_plan() const = 0;

  // Checks the bucket exists and that what lies under prefix ("" for the
  // whole bucket) can be listed with these credentials; lists nothing else,
  // so a mount of bucket:/prefix never reads outside its prefix.
  virtual StoreResult<void> check_bucket(const std::string& prefix) = 0;

  virtual StoreResult<ObjectInfo> head(const std::string& key) = 0;
  // Reads [offset, offset+length) (clipped at the end of the object) into sink;
  // returns the number of bytes delivered. length 0 reads to the end.
  virtual StoreResult<uint64_t> get(const std::string& key, uint64_t offset, uint64_t length,
                                    const ByteSink& sink) = 0;
  // Returns the new object's ETag. The body's checksum is verified (see
  // "checksums"): Integrity when it cannot be confirmed as sent (after the
  // store re-sent it a few times).
  virtual StoreResult<std::string> put(const std::string& key, const FileRange& body, const PutOptions& opts) = 0;
  virtual StoreResult<std::string> put_bytes(const std::string& key, const std::string& body,
                                             const PutOptions& opts) = 0;
  // Deleting a missing key succeeds (S3 semantics).
  virtual StoreResult<void> remove(const std::string& key) = 0;
  // Server-side copy. With replace set, the destination gets exactly that
  // metadata; otherwise the source's metadata is copied. Either way the copy
  // keeps the source's content type (unless replaced), storage class and
  // encryption; objects over 5 GiB are copied part by part (UploadPartCopy).
  virtual StoreResult<std::string> copy(const std::string& src, const std::string& dst,
                                        const std::optional<PutOptions>& replace) = 0;
  virtual StoreResult<ListPage> list(const ListRequest& req) = 0;

  // Creates a multipart upload with the checksum algorithm this store uses
  // now (checksum_plan().crc); the caller records both fields.
  virtual StoreResult<MultipartUpload> create_upload(const std::string& key, const PutOptions& opts) = 0;
  // Streams the range from the file with the checksums the upload needs
  // (known ones are used as given, others computed from the file first) and
  // verifies the server's answer: Integrity when the part cannot be
  // confirmed as sent (after re-sending it a few times). The PartInfo
  // returned carries md5 (when computed) and crc (when the upload has an
  // algorithm): keep both in the record.
  virtual StoreResult<PartInfo> upload_part(const std::string& key, const MultipartUpload& upload, int part_number,
                                            const FileRange& body, const BodyChecksums& known) = 0;
  virtual StoreResult<PartInfo> upload_part_copy(const std::string& key, const std::string& upload_id,
                                                 int part_number, const std::string& src_key, uint64_t offset,
                                                 uint64_t length) = 0;
  // parts in ascending order, each with the etag and (when the upload has an
  // algorithm) the crc its upload_part returned. The whole-object checksum
  // is combined from the parts' and checked against the server's answer:
  // Integrity means the object now in the bucket is NOT what the parts make
  // (start the upload again). Returns the ETag (read back with HEAD when the
  // server sends none).
  virtual StoreResult<std::string> complete_upload(const std::string& key, const MultipartUpload& upload,
                                                   const std::vector<PartInfo>& parts) = 0;
  virtual StoreResult<void> abort_multipart(const std::string& key, const std::string& upload_id) = 0;
  virtual StoreResult<ListPartsPage> list_parts(const std::string& key, const std::string& upload_id, int marker,
                                                int max_parts) = 0;
  virtual StoreResult<ListUploadsPage> list_uploads(const std::string& prefix, const std::string& key_marker,
                                                    const std::string& upload_id_marker) = 0;

  // The same, for callers that keep only an upload id: the algorithm is the
  // one create_upload() would choose now (prefer the calls above, with the
  // MultipartUpload recorded).
  StoreResult<std::string> create_multipart(const std::string& key, const PutOptions& opts);
  StoreResult<PartInfo> upload_part(const std::string& key, const std::string& upload_id, int part_number,
                                    const FileRange& body);
  StoreResult<std::string> complete_multipart(const std::string& key, const std::string& upload_id,
                                              const std::vector<PartInfo>& parts);
};

// Follows every page of a listing; stops at the first error, and with an
// error (Other) when a page makes no progress (the same token again, or a
// truncated page with nothing to continue from), so a broken server cannot
// keep it busy forever.
StoreResult<ListPage> list_all(ObjectStore& store, ListRequest req);
// Reads a whole (small) object into a string.
StoreResult<std::string> get_bytes(ObjectStore& store, const std::string& key, uint64_t offset = 0,
                                   uint64_t length = 0);

}  // namespace bucketfs::store
