// verify.hpp - "is the object in the bucket already ours?": the one question
// the uploader asks after a crash during completion, or after a Complete
// that kept failing (s3rver answers a repeated Complete with 500; RGW and S3
// with NoSuchUpload), before it sends anything again.
//
// Decided, in this order, by what the server provides:
//  1. the size (a different size is never ours);
//  2. a whole-object checksum the HEAD reports (OSS x-oss-hash-crc64ecma; S3
//     x-amz-checksum-* with checksum mode), compared with the one combined
//     from the expected parts' CRCs (FULL_OBJECT or COMPOSITE);
//  3. a multipart ETag equal to the one the parts' answered ETags make (so
//     also for SSE-KMS/SSE-C parts, whose ETags are not MD5s); otherwise
//     the ETag only when the answer does not say SSE-KMS or SSE-C (their
//     ETags are not MD5s): "<md5 of the parts' md5s>-N" for a multipart
//     object; a plain MD5 compared with the whole file's MD5 (given, or read
//     from `file`: s3rver gives a multipart object the plain MD5);
//  4. otherwise Unknown.
// Thread-safety: as the store it is given.
#pragma once

#include <string>
#include <vector>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::store {

// What the uploader knows of the object it meant to create. Keep in the
// record, per part: number, size, md5 (hex) and crc (algorithm and value)
// as upload_part returned them; for a single PUT, one part holding the
// whole file's md5 (and crc when one was sent).
struct ObjectExpectation {
  uint64_t size = 0;
  bool multipart = false;       // made by CompleteMultipartUpload (not a single PUT)
  std::vector<PartInfo> parts;  // every part, ascending, with the etag each upload_part answered
  std::string whole_md5;        // hex MD5 of the whole file, when known
  FileRange file;               // the staged file (fd -1: none); read only for a plain-MD5 ETag
};

enum class Verdict { Yes, No, Unknown };
const char* name(Verdict v);

struct Verification {
  Verdict verdict = Verdict::Unknown;
  std::string how;  // what decided it, for the log: "crc64ecma", "multipart etag", "size", ...
};

// HEADs the key and decides as above. NoSuchKey is Verdict::No; other HEAD
// failures are returned as errors. Reading `file` may fail with LocalIo.
StoreResult<Verification> verify_object(ObjectStore& store, const std::string& key,
                                        const ObjectExpectation& expected);

}  // namespace bucketfs::store
