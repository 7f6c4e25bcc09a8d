// digest.hpp - the hashes, HMACs and encodings that the signers, the store
// (part checksums), the uploader and the CLI need, over OpenSSL libcrypto. In
// util/ so that no layer reaches into sign/ for an MD5. All functions are
// reentrant.
// Errors: an OpenSSL failure (only allocation in practice) throws
// std::bad_alloc or std::runtime_error. A moved-from Md5/Sha256 starts afresh.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bucketfs::crypto {

std::string sha256(std::string_view data);                             // raw 32 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hmac_sha1(std::string_view key, std::string_view data);    // raw 20 bytes
std::string md5(std::string_view data);                                // raw 16 bytes
std::string hex(std::string_view raw);                                 // lower-case
std::string base64(std::string_view raw);
// Decodes standard base64; returns false on bad input.
bool base64_decode(std::string_view in, std::string* out);

// Incremental MD5 (a part's digest computed while it streams). Move-only.
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(Md5&&) noexcept;
  Md5& operator=(Md5&&) noexcept;
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void update(const void* data, size_t n);
  std::string finish();  // raw 16 bytes; the object is reset afterwards
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Incremental SHA-256 (same contract as Md5).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  std::string finish();  // raw 32 bytes
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bucketfs::crypto
