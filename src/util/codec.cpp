// codec.cpp - the frame of the durable records and the metadata map (see
// codec.hpp).
#include "bucketfs/util/codec.hpp"

#include <cstring>

#include "bucketfs/util/crc.hpp"

namespace bucketfs {
namespace {

constexpr size_t kFrameHeader = 4 + 4 + 4;  // magic, version, total length
constexpr size_t kFrameCrc = 4;
constexpr size_t kLengthAt = 8;

}  // namespace

void ByteWriter::begin_frame(const char (&magic)[4], uint32_t version) {
  raw(magic, sizeof magic);
  u32(version);
  u32(0);  // total length, patched by end_frame()
}

std::string ByteWriter::end_frame() {
  patch_u32(kLengthAt, static_cast<uint32_t>(out_.size() + kFrameCrc));
  u32(crc::crc32c(0, out_.data(), out_.size()));
  return std::move(out_);
}

bool ByteReader::str_map(std::map<std::string, std::string>* out) {
  const uint32_t n = u32();
  if (!ok() || n > remaining() / 8) {
    ok_ = false;
    return false;
  }
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = str();
    std::string value = str();
    if (!ok() || !out->emplace(std::move(name), std::move(value)).second) {
      ok_ = false;
      return false;
    }
  }
  return true;
}

std::optional<Frame> open_frame(const std::string& bytes, const char (&magic)[4], const FrameWords& words,
                                std::string* why) {
  const char* fault = nullptr;
  if (bytes.size() < kFrameHeader + kFrameCrc)
    fault = words.shorter_than_header;
  else if (std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    fault = words.bad_magic;
  else if (ByteReader::load_u32(bytes, kLengthAt) > bytes.size())
    fault = words.truncated;
  else if (ByteReader::load_u32(bytes, kLengthAt) < bytes.size())
    fault = words.trailing;
  else if (crc::crc32c(0, bytes.data(), bytes.size() - kFrameCrc) !=
           ByteReader::load_u32(bytes, bytes.size() - kFrameCrc))
    fault = words.bad_checksum;
  if (fault) {
    decode_failed(why, fault);
    return std::nullopt;
  }
  return Frame{ByteReader::load_u32(bytes, 4), ByteReader(bytes, kFrameHeader, bytes.size() - kFrameCrc)};
}

}  // namespace bucketfs
