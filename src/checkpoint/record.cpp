// record.cpp - the versioned, checksummed binary form of an UploadRecord.
//
// Layout (all integers little-endian, fixed width), in the frame of
// util/codec.hpp (magic "BFCR", schema version, total length, CRC32C):
//   key bucket staging_path (str) | size mtime_ns generation part_size (u64) |
//   upload_id (str) | u8 checksum_algo (v2) |
//   u32 part count, per part: u32 number, u64 size, etag md5 (str), u64 crc (v2) |
//   u32 meta count, per entry: name value (str) | content_type (str) | u8 state |
//   u32 attempts | last_error (str) | created updated (i64)
// where str is a u32 length followed by the bytes.
#include "bucketfs/checkpoint/record.hpp"

#include "bucketfs/util/codec.hpp"

namespace bucketfs::checkpoint {

namespace {

constexpr char kMagic[4] = {'B', 'F', 'C', 'R'};
constexpr FrameWords kFrameWords = {"truncated (shorter than a header)", "bad magic", "truncated",
                                    "trailing bytes after the record", "checksum mismatch"};

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
  w.begin_frame(kMagic, UploadRecord::kSchemaVersion);
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
  w.str_map(r.meta);
  w.str(r.content_type);
  w.u8(static_cast<uint8_t>(r.state));
  w.u32(r.attempts);
  w.str(r.last_error);
  w.u64(static_cast<uint64_t>(static_cast<int64_t>(r.created)));
  w.u64(static_cast<uint64_t>(static_cast<int64_t>(r.updated)));
  return w.end_frame();
}

bool decode(const std::string& bytes, UploadRecord* out) { return decode(bytes, out, nullptr); }

bool decode(const std::string& bytes, UploadRecord* out, std::string* why) {
  auto frame = open_frame(bytes, kMagic, kFrameWords, why);
  if (!frame) return false;
  const uint32_t version = frame->version;
  if (version != 1 && version != UploadRecord::kSchemaVersion) return decode_failed(why, "unknown schema version");
  const bool v2 = version >= 2;

  ByteReader& rd = frame->fields;
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
  if (!rd.ok() || nparts > rd.remaining() / 20) return decode_failed(why, "malformed part list");
  r.parts.reserve(nparts);
  for (uint32_t i = 0; i < nparts; ++i) {
    PartRecord p;
    p.number = static_cast<int>(rd.u32());
    p.size = rd.u64();
    p.etag = rd.str();
    p.md5 = rd.str();
    if (v2) p.crc = rd.u64();
    if (!rd.ok()) return decode_failed(why, "malformed part list");
    r.parts.push_back(std::move(p));
  }
  if (!rd.str_map(&r.meta)) return decode_failed(why, "malformed metadata");
  r.content_type = rd.str();
  const uint8_t state = rd.u8();
  if (state > static_cast<uint8_t>(UploadState::Creating)) return decode_failed(why, "unknown state");
  r.state = static_cast<UploadState>(state);
  r.attempts = rd.u32();
  r.last_error = rd.str();
  r.created = static_cast<std::time_t>(static_cast<int64_t>(rd.u64()));
  r.updated = static_cast<std::time_t>(static_cast<int64_t>(rd.u64()));
  if (!rd.ok()) return decode_failed(why, "truncated field");
  if (!rd.at_end()) return decode_failed(why, "unparsed bytes inside the record");
  *out = std::move(r);
  return true;
}

}  // namespace bucketfs::checkpoint
