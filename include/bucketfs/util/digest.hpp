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

// An incremental digest (a part's digest computed while it streams): the
// body of Md5 and Sha256 below, which differ only in the algorithm. Move-only.
class StreamDigest {
 public:
  ~StreamDigest();
  StreamDigest(StreamDigest&&) noexcept;
  StreamDigest& operator=(StreamDigest&&) noexcept;
  StreamDigest(const StreamDigest&) = delete;
  StreamDigest& operator=(const StreamDigest&) = delete;
  void update(const void* data, size_t n);
  std::string finish();  // the raw digest; the object is reset afterwards
  void reset();

 protected:
  enum class Algo { Md5, Sha256 };
  explicit StreamDigest(Algo algo);

 private:
  struct Impl;
  Impl& impl();  // (re)created on first use after a move
  Algo algo_;
  std::unique_ptr<Impl> impl_;
};

// Incremental MD5: finish() gives the raw 16 bytes.
class Md5 : public StreamDigest {
 public:
  Md5() : StreamDigest(Algo::Md5) {}
};

// Incremental SHA-256: finish() gives the raw 32 bytes.
class Sha256 : public StreamDigest {
 public:
  Sha256() : StreamDigest(Algo::Sha256) {}
};

}  // namespace bucketfs::crypto
