// codec.hpp - little-endian binary encoding for the small durable records
// bucketfs keeps (checkpoint records, closed marks of staged files).
//
// ByteWriter appends fixed-width integers and u32-length-prefixed strings.
// ByteReader is bounds-checked: once a read fails every later read fails too,
// so a decoder reads a group of fields and tests ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace bucketfs
