// s3_xml.hpp - parsing of S3/OSS XML responses and building of request bodies
// (pugixml underneath; nothing of pugixml leaks through this header).
//
// Every parse_* returns std::nullopt when the body is not the document it
// expects (malformed XML or wrong root element); it never throws. Both the S3
// namespace (xmlns="http://s3.amazonaws.com/doc/2006-03-01/") and none (OSS)
// are accepted. Reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bucketfs::xml {

struct ObjectEntry {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // as sent, quotes included
  std::string last_modified;  // ISO 8601 as sent
};

// ListObjectsV2 (ListBucketResult); V1 listings parse too (NextMarker).
struct ListResult {
  std::vector<ObjectEntry> contents;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_continuation_token;  // V2
  std::string next_marker;              // V1 (OSS / fallback)
  int key_count = 0;
  bool v1_answer = false;  // a V1 document (<Marker>, no <KeyCount>): the server ignored list-type=2
};

// <Error><Code/><Message/><RequestId/><Resource/>...</Error>
struct ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
  std::string resource;
  std::string bucket_name;  // <BucketName> when present
  std::string server_time;  // <ServerTime> (OSS) / <ServerTime> on RequestTimeTooSkewed
};

struct PartEntry {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // quotes included
  std::string last_modified;
};

struct ListPartsResult {
  std::vector<PartEntry> parts;
  bool is_truncated = false;
  int next_part_number_marker = 0;
};

struct UploadEntry {
  std::string key;
  std::string upload_id;
  std::string initiated;  // ISO 8601
};

struct ListUploadsResult {
  std::vector<UploadEntry> uploads;
  bool is_truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

std::optional<ListResult> parse_list_objects(std::string_view body);
std::optional<ErrorBody> parse_error(std::string_view body);
// InitiateMultipartUploadResult -> UploadId
std::optional<std::string> parse_initiate_multipart(std::string_view body);
// CompleteMultipartUploadResult -> ETag (may be empty: Ceph 16 sends <ETag/>).
// A 200 answer carrying <Error> instead is reported by parse_error.
std::optional<std::string> parse_complete_multipart(std::string_view body);

// The same with the whole-object checksum S3 reports for a flexible-checksum
// upload (<ChecksumCRC32C>, <ChecksumCRC64NVME>: base64, "-N" for COMPOSITE).
struct CompleteResult {
  std::string etag;
  std::string checksum_crc32c;
  std::string checksum_crc64nvme;
  std::string checksum_type;  // FULL_OBJECT / COMPOSITE when sent
};
std::optional<CompleteResult> parse_complete_result(std::string_view body);
std::optional<ListPartsResult> parse_list_parts(std::string_view body);
std::optional<ListUploadsResult> parse_list_uploads(std::string_view body);
// CopyObjectResult / CopyPartResult -> ETag
std::optional<std::string> parse_copy_result(std::string_view body);

// <CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>e</ETag>
// [<ChecksumCRC32C>b64</ChecksumCRC32C>]</Part>...: parts must be in
// ascending part-number order; ETags are written as given, each part's
// checksum element when checksum_element is not empty.
struct CompletePart {
  int number = 0;
  std::string etag;              // written as given (quotes included)
  std::string checksum_element;  // "ChecksumCRC32C", or "" for none
  std::string checksum_value;
};
std::string build_complete_multipart(const std::vector<CompletePart>& parts);

}  // namespace bucketfs::xml
