// object_options.hpp - what every object bucketfs writes is stored with:
// server-side encryption and a storage class, as s3fs, rclone and
// mountpoint-s3 offer them, and the request headers that carry them.
//
//   S3:  sse=AES256 | aws:kms | aws:kms:KEYID, or an SSE-C key file
//        (x-amz-server-side-encryption-customer-*: sent on every GET, HEAD,
//        PUT, part and copy, and as copy-source headers on copies)
//   OSS: sse=AES256 | KMS | KMS:KEYID | SM4
// Pure functions except load_customer_key (reads a file). Reentrant.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bucketfs/store/object_store.hpp"
#include "bucketfs/util/result.hpp"
#include "bucketfs/util/secret.hpp"

namespace bucketfs::store {

struct Encryption {
  enum class Mode { None, Managed, Kms, Sm4, CustomerKey };
  Mode mode = Mode::None;
  std::string kms_key_id;  // Kms: empty = the account's default key
  Secret customer_key;     // CustomerKey: 32 raw bytes; never logged
};

// Parses an sse= value for the dialect; the error says what is accepted.
Result<Encryption, std::string> parse_sse(std::string_view spec, Dialect dialect);

// Reads an SSE-C key: 32 raw bytes, or their base64 on one line. The file
// must not be readable or writable by group or others (like a passwd file).
// Errors name the file and what to do.
Result<Secret, std::string> load_customer_key(const std::string& path);

// A storage class name: letters, digits, '_' and '-' (servers define their
// own: RGW placement classes, OSS "IA", S3 "STANDARD_IA").
Result<void, std::string> check_storage_class(std::string_view name);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Where the headers go.
enum class HeaderUse {
  NewObject,   // PUT, CreateMultipartUpload, the destination of a copy
  Part,        // UploadPart, CompleteMultipartUpload: SSE-C only
  Read,        // GET, HEAD: SSE-C only
  CopySource,  // the source of CopyObject / UploadPartCopy: SSE-C copy-source headers
};

// Lower-case header names and values for the encryption (nothing for Mode::None).
HeaderList encryption_headers(const Encryption& e, Dialect d, HeaderUse use);

// "x-amz-storage-class" / "x-oss-storage-class".
std::string storage_class_header(Dialect d);

}  // namespace bucketfs::store
