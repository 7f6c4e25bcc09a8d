// record.hpp - what the checkpoint store keeps per pending upload (no LMDB here).
//
// A record is written whenever its upload changes state (one short write
// transaction each) and is the only truth about a closed-but-not-uploaded file
// after a crash. Encoded with a schema version and a checksum; a record whose
// checksum fails is never trusted (see CheckpointStore::load_all).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace bucketfs::checkpoint {

enum class UploadState : uint8_t {
  Pending = 0,     // closed, durable in staging, upload not started
  Uploading = 1,   // parts being sent (upload_id set for multipart)
  Completing = 2,  // all parts sent; CompleteMultipartUpload / final check in progress
  Failed = 3,      // gave up for now (last_error says why); retried later / next mount
  Creating = 4,    // CreateMultipartUpload sent, its upload id not yet recorded: an upload
                   // of the key begun since `updated` may be ours (aborted at recovery)
};

const char* state_name(UploadState s);

struct PartRecord {
  int number = 0;
  uint64_t size = 0;
  std::string etag;  // without quotes
  std::string md5;   // lower-case hex of what we sent
  uint64_t crc = 0;  // the part's CRC in the upload's checksum_algo (unused when that is 0)
};

struct UploadRecord {
  // 2 added checksum_algo and PartRecord::crc; version 1 records still
  // decode (as algorithm 0, no CRCs).
  static constexpr uint32_t kSchemaVersion = 2;

  std::string key;  // object key in the bucket (full, prefix included)
  std::string bucket;
  std::string staging_path;                 // absolute path of the staging file
  uint64_t size = 0;                        // staging file size at close
  int64_t mtime_ns = 0;                     // staging file mtime at close (st_mtim), to detect changes
  uint64_t generation = 0;                  // write generation this record uploads
  uint64_t part_size = 0;                   // 0: single PUT
  std::string upload_id;                    // multipart upload id once created
  uint8_t checksum_algo = 0;                // the upload's CRC algorithm (store::ChecksumAlgo), 0: none
  std::vector<PartRecord> parts;            // completed parts, ascending by number
  std::map<std::string, std::string> meta;  // object metadata (mode, uid, gid, mtime), unprefixed
  std::string content_type;
  UploadState state = UploadState::Pending;
  uint32_t attempts = 0;
  std::string last_error;
  std::time_t created = 0;
  std::time_t updated = 0;

  uint64_t bytes_done() const;
  uint32_t parts_total() const;  // 1 for a single PUT
};

// Binary encoding (little-endian), see record.cpp:
//   "BFCR" | u32 schema version | u32 total length | fields... | u32 CRC32C
// Strings are u32-length-prefixed; the CRC32C covers every byte before it.
std::string encode(const UploadRecord& r);
// False when the bytes are damaged (bad checksum, truncated, unknown version,
// trailing bytes, malformed field). `*out` is only written on success.
bool decode(const std::string& bytes, UploadRecord* out);
// Same, and on failure sets `*why` (if non-null) to a short reason for reports.
bool decode(const std::string& bytes, UploadRecord* out, std::string* why);

}  // namespace bucketfs::checkpoint
