// closed_mark.cpp - the binary form of a ClosedMark (see closed_mark.hpp).
#include "bucketfs/stage/closed_mark.hpp"

#include "bucketfs/util/codec.hpp"

namespace bucketfs::stage {
namespace {

constexpr char kMagic[4] = {'B', 'F', 'M', 'K'};
constexpr FrameWords kFrameWords = {"truncated", "bad magic", "wrong length", "wrong length", "checksum mismatch"};

}  // namespace

std::string encode_mark(const ClosedMark& m) {
  ByteWriter w;
  w.begin_frame(kMagic, ClosedMark::kVersion);
  w.str(m.key);
  w.u64(m.generation);
  w.u64(m.size);
  w.u64(static_cast<uint64_t>(m.mtime_ns));
  w.str_map(m.meta);
  w.str(m.content_type);
  return w.end_frame();
}

bool decode_mark(const std::string& bytes, ClosedMark* out, std::string* why) {
  auto frame = open_frame(bytes, kMagic, kFrameWords, why);
  if (!frame) return false;
  if (frame->version != ClosedMark::kVersion) return decode_failed(why, "unknown version");
  ByteReader& rd = frame->fields;
  ClosedMark m;
  m.key = rd.str();
  m.generation = rd.u64();
  m.size = rd.u64();
  m.mtime_ns = static_cast<int64_t>(rd.u64());
  if (!rd.str_map(&m.meta)) return decode_failed(why, "malformed metadata");
  m.content_type = rd.str();
  if (!rd.at_end()) return decode_failed(why, "malformed");
  if (m.key.empty()) return decode_failed(why, "no key");
  *out = std::move(m);
  return true;
}

}  // namespace bucketfs::stage
