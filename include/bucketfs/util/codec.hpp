// codec.hpp - little-endian binary encoding for the small durable records
// bucketfs keeps (checkpoint records, closed marks of staged files).
//
// ByteWriter appends fixed-width integers and u32-length-prefixed strings.
// ByteReader is bounds-checked: once a read fails every later read fails too,
// so a decoder reads a group of fields and tests ok() once.
//
// Both records are framed alike (all integers little-endian):
//   magic (4 bytes) | u32 version | u32 total length (including the CRC) |
//   fields | u32 CRC32C of everything before it
// The explicit total length makes every truncation and every trailing byte a
// hard error independent of the CRC; CRC32C detects every error confined to
// 32 consecutive bits, so any single damaged byte is always caught.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bucketfs {

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void raw(const char* p, size_t n) { out_.append(p, n); }
  // A u32 count, then each entry's name and value as str.
  void str_map(const std::map<std::string, std::string>& m) {
    u32(static_cast<uint32_t>(m.size()));
    for (const auto& [name, value] : m) {
      str(name);
      str(value);
    }
  }
  // Starts a frame (see above): magic, version and a placeholder for the
  // total length, which end_frame() fills in.
  void begin_frame(const char (&magic)[4], uint32_t version);
  // Ends the frame begun with begin_frame(): patches the total length, appends
  // the CRC32C and hands over the bytes.
  std::string end_frame();
  // Overwrites 4 bytes at `at` (a length written as a placeholder).
  void patch_u32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(const std::string& s, size_t begin, size_t end) : s_(s), pos_(begin), end_(end) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? end_ - pos_ : 0; }
  bool at_end() const { return ok_ && pos_ == end_; }

  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(s_[pos_++]);
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = load_u32(s_, pos_);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (!need(n)) return {};
    std::string v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // What ByteWriter::str_map wrote, into *out. False (and not ok()) for a
  // count the bytes left cannot hold (each entry takes at least 8 bytes:
  // refused before anything is read), an entry cut short or a name twice.
  bool str_map(std::map<std::string, std::string>* out);

  static uint32_t load_u32(const std::string& s, size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
    return v;
  }

 private:
  bool need(size_t n) {
    if (ok_ && end_ - pos_ >= n) return true;
    ok_ = false;
    return false;
  }
  const std::string& s_;
  size_t pos_;
  size_t end_;
  bool ok_ = true;
};

// How a record type words each fault of its frame (its own messages).
struct FrameWords {
  const char* shorter_than_header;
  const char* bad_magic;
  const char* truncated;  // the total length says more than there is
  const char* trailing;   // the total length says less than there is
  const char* bad_checksum;
};

// A frame whose size, magic, total length and CRC32C are right: its version
// (not yet judged: read after the CRC matched, so that a damaged version
// field reads as damage) and a reader over its fields.
struct Frame {
  uint32_t version;
  ByteReader fields;
};

// What a decoder returns on a fault: false, with *why (when not null) set to
// reason.
inline bool decode_failed(std::string* why, const char* reason) {
  if (why) *why = reason;
  return false;
}

// Checks bytes as a frame with this magic; on a fault, std::nullopt and
// *why (when not null) set to the matching words.
std::optional<Frame> open_frame(const std::string& bytes, const char (&magic)[4], const FrameWords& words,
                                std::string* why);

}  // namespace bucketfs
