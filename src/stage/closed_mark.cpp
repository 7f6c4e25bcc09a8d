// closed_mark.cpp - the binary form of a ClosedMark (see closed_mark.hpp).
#include "bucketfs/stage/closed_mark.hpp"

#include <cstring>

#include "bucketfs/util/codec.hpp"
#include "bucketfs/util/crc.hpp"

namespace bucketfs::stage {
namespace {

constexpr char kMagic[4] = {'B', 'F', 'M', 'K'};
constexpr size_t kHeader = 12;
constexpr size_t kCrc = 4;

bool fail(std::string* why, const char* reason) {
  if (why) *why = reason;
  return false;
}

}  // namespace

std::string encode_mark(const ClosedMark& m) {
  ByteWriter w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(ClosedMark::kVersion);
  w.u32(0);  // total length, patched below
  w.str(m.key);
  w.u64(m.generation);
  w.u64(m.size);
  w.u64(static_cast<uint64_t>(m.mtime_ns));
  w.u32(static_cast<uint32_t>(m.meta.size()));
  for (const auto& [name, value] : m.meta) {
    w.str(name);
    w.str(value);
  }
  w.str(m.content_type);
  w.patch_u32(8, static_cast<uint32_t>(w.bytes().size() + kCrc));
  w.u32(crc::crc32c(0, w.bytes().data(), w.bytes().size()));
  return std::move(w.bytes());
}

bool decode_mark(const std::string& bytes, ClosedMark* out, std::string* why) {
  if (bytes.size() < kHeader + kCrc) return fail(why, "truncated");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return fail(why, "bad magic");
  if (ByteReader::load_u32(bytes, 8) != bytes.size()) return fail(why, "wrong length");
  const size_t body_end = bytes.size() - kCrc;
  if (crc::crc32c(0, bytes.data(), body_end) != ByteReader::load_u32(bytes, body_end))
    return fail(why, "checksum mismatch");
  if (ByteReader::load_u32(bytes, 4) != ClosedMark::kVersion) return fail(why, "unknown version");
  ByteReader rd(bytes, kHeader, body_end);
  ClosedMark m;
  m.key = rd.str();
  m.generation = rd.u64();
  m.size = rd.u64();
  m.mtime_ns = static_cast<int64_t>(rd.u64());
  const uint32_t nmeta = rd.u32();
  if (!rd.ok() || nmeta > rd.remaining() / 8) return fail(why, "malformed metadata");
  for (uint32_t i = 0; i < nmeta; ++i) {
    std::string name = rd.str();
    std::string value = rd.str();
    if (!rd.ok() || !m.meta.emplace(std::move(name), std::move(value)).second)
      return fail(why, "malformed metadata");
  }
  m.content_type = rd.str();
  if (!rd.at_end()) return fail(why, "malformed");
  if (m.key.empty()) return fail(why, "no key");
  *out = std::move(m);
  return true;
}

}  // namespace bucketfs::stage
