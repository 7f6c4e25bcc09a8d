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

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  std::time_t last_modified = 0;
  std::string content_type;
  Metadata meta;  // only filled by head(); listings carry none
};

struct PutOptions {
  Metadata meta;
  std::string content_type;  // empty: application/octet-stream
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

// Operations a server may lack; learnt from its answers and remembered.
struct Capabilities {
  bool list_parts = true;
  bool abort_multipart = true;
  bool upload_part_copy = true;
  bool list_uploads = true;
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

  // Checks the bucket exists and that what lies under prefix ("" for the
  // whole bucket) can be listed with these credentials; lists nothing else,
  // so a mount of bucket:/prefix never reads outside its prefix.
  virtual StoreResult<void> check_bucket(const std::string& prefix) = 0;

  virtual StoreResult<ObjectInfo> head(const std::string& key) = 0;
  // Reads [offset, offset+length) (clipped at the end of the object) into sink;
  // returns the number of bytes delivered. length 0 reads to the end.
  virtual StoreResult<uint64_t> get(const std::string& key, uint64_t offset, uint64_t length,
                                    const ByteSink& sink) = 0;
  // Returns the new object's ETag.
  virtual StoreResult<std::string> put(const std::string& key, const FileRange& body, const PutOptions& opts) = 0;
  virtual StoreResult<std::string> put_bytes(const std::string& key, const std::string& body,
                                             const PutOptions& opts) = 0;
  // Deleting a missing key succeeds (S3 semantics).
  virtual StoreResult<void> remove(const std::string& key) = 0;
  // Server-side copy. With replace set, the destination gets exactly that
  // metadata; otherwise the source's metadata is copied.
  virtual StoreResult<std::string> copy(const std::string& src, const std::string& dst,
                                        const std::optional<PutOptions>& replace) = 0;
  virtual StoreResult<ListPage> list(const ListRequest& req) = 0;

  virtual StoreResult<std::string> create_multipart(const std::string& key, const PutOptions& opts) = 0;
  // Streams the range from the file; fills md5 while streaming and checks it
  // against the returned ETag where that is an MD5 (Integrity on mismatch).
  virtual StoreResult<PartInfo> upload_part(const std::string& key, const std::string& upload_id, int part_number,
                                            const FileRange& body) = 0;
  virtual StoreResult<PartInfo> upload_part_copy(const std::string& key, const std::string& upload_id,
                                                 int part_number, const std::string& src_key, uint64_t offset,
                                                 uint64_t length) = 0;
  // parts in ascending order. Returns the ETag (read back with HEAD when the server sends none).
  virtual StoreResult<std::string> complete_multipart(const std::string& key, const std::string& upload_id,
                                                      const std::vector<PartInfo>& parts) = 0;
  virtual StoreResult<void> abort_multipart(const std::string& key, const std::string& upload_id) = 0;
  virtual StoreResult<ListPartsPage> list_parts(const std::string& key, const std::string& upload_id, int marker,
                                                int max_parts) = 0;
  virtual StoreResult<ListUploadsPage> list_uploads(const std::string& prefix, const std::string& key_marker,
                                                    const std::string& upload_id_marker) = 0;
};

// Follows every page of a listing; stops at the first error.
StoreResult<ListPage> list_all(ObjectStore& store, ListRequest req);
// Reads a whole (small) object into a string.
StoreResult<std::string> get_bytes(ObjectStore& store, const std::string& key, uint64_t offset = 0,
                                   uint64_t length = 0);

}  // namespace bucketfs::store
