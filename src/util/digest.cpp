// digest.cpp - hashes, HMAC and hex/base64 over OpenSSL libcrypto (the CRCs
// are in util/crc.hpp).
//
// Digests go through the EVP interface (the low-level MD5_/SHA256_ calls are
// deprecated in OpenSSL 3). Every EVP_MD_CTX is owned by a unique_ptr, so no
// error path leaks one. OpenSSL failures here mean allocation failure or a
// broken library; they are reported as std::bad_alloc / std::runtime_error.
#include "bucketfs/util/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <new>
#include <stdexcept>

namespace bucketfs::crypto {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtxPtr new_ctx(const EVP_MD* md) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex failed");
  return ctx;
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1)
    throw std::runtime_error("EVP_Digest failed");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() treats a null data pointer as an error even for n == 0.
  static const unsigned char kEmpty = 0;
  const unsigned char* d = data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(md, key.data(), static_cast<int>(key.size()), d, data.size(), out, &len) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  std::string mac(reinterpret_cast<char*>(out), len);
  OPENSSL_cleanse(out, sizeof out);  // a MAC may be a derived signing key
  return mac;
}

// Shared body of Md5 and Sha256: a lazily (re)initialised digest context.
struct Digest {
  const EVP_MD* md;
  MdCtxPtr ctx;
  explicit Digest(const EVP_MD* m) : md(m), ctx(new_ctx(m)) {}
  void update(const void* data, size_t n) {
    if (n == 0) return;
    if (EVP_DigestUpdate(ctx.get(), data, n) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
  }
  std::string finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) throw std::runtime_error("EVP_DigestFinal_ex failed");
    reset();
    return std::string(reinterpret_cast<char*>(out), len);
  }
  void reset() {
    if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex failed");
  }
};

int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string sha256(std::string_view data) { return digest(EVP_sha256(), data); }
std::string md5(std::string_view data) { return digest(EVP_md5(), data); }
std::string hmac_sha256(std::string_view key, std::string_view data) { return hmac(EVP_sha256(), key, data); }
std::string hmac_sha1(std::string_view key, std::string_view data) { return hmac(EVP_sha1(), key, data); }

std::string hex(std::string_view raw) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xF]);
  }
  return out;
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  if (raw.empty()) return out;
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// Own decoder: EVP_DecodeBlock keeps the zero bytes that padding stands for
// and accepts whitespace, so it could not say exactly what was encoded.
bool base64_decode(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  std::string result;
  result.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      unsigned char c = static_cast<unsigned char>(in[i + k]);
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[k] = b64_value(c);
      if (v[k] < 0) return false;
    }
    uint32_t triple = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    result.push_back(static_cast<char>((triple >> 16) & 0xFF));
    if (pad < 2) result.push_back(static_cast<char>((triple >> 8) & 0xFF));
    if (pad < 1) result.push_back(static_cast<char>(triple & 0xFF));
  }
  *out = std::move(result);
  return true;
}

// --- incremental digests ---------------------------------------------------

struct StreamDigest::Impl : Digest {
  explicit Impl(Algo a) : Digest(a == Algo::Md5 ? EVP_md5() : EVP_sha256()) {}
};

StreamDigest::StreamDigest(Algo algo) : algo_(algo), impl_(std::make_unique<Impl>(algo)) {}
StreamDigest::~StreamDigest() = default;
StreamDigest::StreamDigest(StreamDigest&&) noexcept = default;
StreamDigest& StreamDigest::operator=(StreamDigest&&) noexcept = default;

StreamDigest::Impl& StreamDigest::impl() {
  if (!impl_) impl_ = std::make_unique<Impl>(algo_);  // moved-from: start afresh
  return *impl_;
}

void StreamDigest::update(const void* data, size_t n) { impl().update(data, n); }
std::string StreamDigest::finish() { return impl().finish(); }
void StreamDigest::reset() { impl().reset(); }

}  // namespace bucketfs::crypto
