// record.cpp - the versioned, checksummed binary form of an UploadRecord.
//
// Layout (all integers little-endian, fixed width):
//   "BFCR" | u32 schema version | u32 total length (including the CRC) |
//   key bucket staging_path (str) | size mtime_ns generation part_size (u64) |
//   upload_id (str) | u8 checksum_algo (v2) |
//   u32 part count, per part: u32 number, u64 size, etag md5 (str), u64 crc (v2) |
//   u32 meta count, per entry: name value (str) | content_type (str) | u8 state |
//   u32 attempts | last_error (str) | created updated (i64) | u32 CRC32C
// where str is a u32 length followed by the bytes. The explicit total length
// makes every truncation and every trailing byte a hard error independent of
// the CRC; CRC32C detects every error confined to 32 consecutive bits, so any
// single damaged byte is always caught.
#include "bucketfs/checkpoint/record.hpp"

#include <cstring>

#include "bucketfs/util/codec.hpp"
#include "bucketfs/util/crc.hpp"

namespace bucketfs::checkpoint {

namespace {

constexpr char kMagic[4] = {'B', 'F', 'C', 'R'};
constexpr size_t kHeaderSize = 4 + 4 + 4;
constexpr size_t kCrcSize = 4;

bool fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return false;
}

}  // namespace

const char* state_name(UploadState s) {
  switch (s) {
    case UploadState::Pending: return "pending";
    case UploadState::Uploading: return "uploading";
    case UploadState::Completing: return "completing";
    case UploadState::Failed: return "failed";
    case UploadState::Creating: return "creating";
  }
  return "unknown";
}

uint64_t UploadRecord::bytes_done() const {
  uint64_t sum = 0;
  for (const auto& p : parts) sum += p.size;
  return sum < size ? sum : size;
}

uint32_t UploadRecord::parts_total() const {
  if (part_size == 0 || size == 0) return 1;
  return static_cast<uint32_t>((size + part_size - 1) / part_size);
}

std::string encode(const UploadRecord& r) {
  ByteWriter w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(UploadRecord::kSchemaVersion);
  w.u32(0);  // total length, patched below
  w.str(r.key);
  w.str(r.bucket);
  w.str(r.staging_path);
  w.u64(r.size);
  w.u64(static_cast<uint64_t>(r.mtime_ns));
  w.u64(r.generation);
  w.u64(r.part_size);
  w.str(r.upload_id);
  w.u8(r.checksum_algo);
  w.u32(static_cast<uint32_t>(r.parts.size()));
  for (const auto& p : r.parts) {
    w.u32(static_cast<uint32_t>(p.number));
    w.u64(p.size);
    w.str(p.etag);
    w.str(p.md5);
    w.u64(p.crc);
  }
  w.u32(static_cast<uint32_t>(r.meta.size()));
  for (const auto& [name, value] : r.meta) {
    w.str(name);
    w.str(value);
  }
  w.str(r.content_type);
  w.u8(static_cast<uint8_t>(r.state));
  w.u32(r.attempts);
  w.str(r.last_error);
  w.u64(static_cast<uint64_t>(static_cast<int64_t>(r.created)));
  w.u64(static_cast<uint64_t>(static_cast<int64_t>(r.updated)));

  std::string& out = w.bytes();
  const uint32_t total = static_cast<uint32_t>(out.size() + kCrcSize);
  w.patch_u32(8, total);
  w.u32(crc::crc32c(0, out.data(), out.size()));
  return std::move(out);
}

bool decode(const std::string& bytes, UploadRecord* out) { return decode(bytes, out, nullptr); }

bool decode(const std::string& bytes, UploadRecord* out, std::string* why) {
  if (bytes.size() < kHeaderSize + kCrcSize) return fail(why, "truncated (shorter than a header)");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return fail(why, "bad magic");
  const uint32_t total = ByteReader::load_u32(bytes, 8);
  if (total > bytes.size()) return fail(why, "truncated");
  if (total < bytes.size()) return fail(why, "trailing bytes after the record");
  const size_t body_end = bytes.size() - kCrcSize;
  if (crc::crc32c(0, bytes.data(), body_end) != ByteReader::load_u32(bytes, body_end))
    return fail(why, "checksum mismatch");
  // Checked after the CRC so that a damaged version field reads as damage.
  const uint32_t version = ByteReader::load_u32(bytes, 4);
  if (version != 1 && version != UploadRecord::kSchemaVersion) return fail(why, "unknown schema version");
  const bool v2 = version >= 2;

  ByteReader rd(bytes, kHeaderSize, body_end);
  UploadRecord r;
  r.key = rd.str();
  r.bucket = rd.str();
  r.staging_path = rd.str();
  r.size = rd.u64();
  r.mtime_ns = static_cast<int64_t>(rd.u64());
  r.generation = rd.u64();
  r.part_size = rd.u64();
  r.upload_id = rd.str();
  if (v2) r.checksum_algo = rd.u8();
  const uint32_t nparts = rd.u32();
  // Each part takes at least 20 bytes: refuse counts the bytes cannot hold
  // before reserving memory for them.
  if (!rd.ok() || nparts > rd.remaining() / 20) return fail(why, "malformed part list");
  r.parts.reserve(nparts);
  for (uint32_t i = 0; i < nparts; ++i) {
    PartRecord p;
    p.number = static_cast<int>(rd.u32());
    p.size = rd.u64();
    p.etag = rd.str();
    p.md5 = rd.str();
    if (v2) p.crc = rd.u64();
    if (!rd.ok()) return fail(why, "malformed part list");
    r.parts.push_back(std::move(p));
  }
  const uint32_t nmeta = rd.u32();
  if (!rd.ok() || nmeta > rd.remaining() / 8) return fail(why, "malformed metadata");
  for (uint32_t i = 0; i < nmeta; ++i) {
    std::string name = rd.str();
    std::string value = rd.str();
    if (!rd.ok() || !r.meta.emplace(std::move(name), std::move(value)).second) {
      return fail(why, "malformed metadata");
    }
  }
  r.content_type = rd.str();
  const uint8_t state = rd.u8();
  if (state > static_cast<uint8_t>(UploadState::Creating)) return fail(why, "unknown state");
  r.state = static_cast<UploadState>(state);
  r.attempts = rd.u32();
  r.last_error = rd.str();
  r.created = static_cast<std::time_t>(static_cast<int64_t>(rd.u64()));
  r.updated = static_cast<std::time_t>(static_cast<int64_t>(rd.u64()));
  if (!rd.ok()) return fail(why, "truncated field");
  if (!rd.at_end()) return fail(why, "unparsed bytes inside the record");
  *out = std::move(r);
  return true;
}

}  // namespace bucketfs::checkpoint
