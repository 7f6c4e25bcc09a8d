// crc64.cpp - CRC-64/ECMA-182 as OSS uses it (CRC-64/XZ) and CRC-64/NVME:
// carry-less multiplication folding (PCLMULQDQ) where the CPU has it,
// slice-by-8 tables otherwise. See crc.hpp.
//
// The folding, in the reflected representation (bit j of a 128-bit lane is
// x^(127-j)): the running 16-byte remainder A = H*x^64 + L (H in the low
// quadword) is carried D bits further as H*(x^(D+63) mod P) + L*(x^(D-1) mod
// P); the "-1" absorbs the one-bit shift of a reflected carry-less product.
// Four lanes fold 64 bytes per round, then merge into one. The last 16-byte
// remainder and the tail (< 16 bytes) go through the table code, which
// turns "a message" into its CRC by definition: no Barrett reduction, and
// the constants are derived from the polynomial, not copied in.
#include "bucketfs/util/crc.hpp"
#include "crc_gf2.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bucketfs::crc {
namespace {

constexpr uint64_t kEcmaPoly = 0xC96C5795D7870F42ull;  // 0x42F0E1EBA9EA3693 reflected
constexpr uint64_t kNvmePoly = 0x9A6C9329AC4BC9B5ull;  // 0xAD93D23594C93659 reflected

struct Crc64 {
  uint64_t poly;
  detail::Tables<uint64_t> tables;
  // {x^(D+63), x^(D-1)} mod P for D = 512, 384, 256, 128 bits.
  uint64_t k512[2], k384[2], k256[2], k128[2];
};

constexpr Crc64 make(uint64_t poly) {
  Crc64 c{poly, detail::make_tables<uint64_t>(poly), {}, {}, {}, {}};
  auto set = [&](uint64_t* k, uint64_t d) {
    k[0] = detail::x_pow_mod<uint64_t>(d + 63, poly);
    k[1] = detail::x_pow_mod<uint64_t>(d - 1, poly);
  };
  set(c.k512, 512);
  set(c.k384, 384);
  set(c.k256, 256);
  set(c.k128, 128);
  return c;
}

constexpr Crc64 kEcma = make(kEcmaPoly);
constexpr Crc64 kNvme = make(kNvmePoly);

uint64_t update_portable(const Crc64& c, uint64_t crc, const void* data, size_t n) {
  return ~detail::update_sliced<uint64_t>(~crc, static_cast<const unsigned char*>(data), n, c.tables);
}

#if defined(__x86_64__)
constexpr size_t kMinFold = 64;  // below this the tables are as fast

#define BUCKETFS_CLMUL __attribute__((target("pclmul,sse4.1")))

BUCKETFS_CLMUL inline __m128i consts(const uint64_t k[2]) {
  return _mm_set_epi64x(static_cast<long long>(k[1]), static_cast<long long>(k[0]));
}

// A carried 128*(number of folds) bits further, as described above.
BUCKETFS_CLMUL inline __m128i fold(__m128i a, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00), _mm_clmulepi64_si128(a, k, 0x11));
}

BUCKETFS_CLMUL inline __m128i load(const unsigned char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Raw register update for n >= kMinFold.
BUCKETFS_CLMUL uint64_t update_clmul(const Crc64& c, uint64_t state, const unsigned char* p, size_t n) {
  // The register joins the message: XORed into its first eight bytes.
  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi64_si128(static_cast<long long>(state)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64;
  n -= 64;
  const __m128i k512 = consts(c.k512);
  while (n >= 64) {
    x0 = _mm_xor_si128(fold(x0, k512), load(p));
    x1 = _mm_xor_si128(fold(x1, k512), load(p + 16));
    x2 = _mm_xor_si128(fold(x2, k512), load(p + 32));
    x3 = _mm_xor_si128(fold(x3, k512), load(p + 48));
    p += 64;
    n -= 64;
  }
  __m128i acc = _mm_xor_si128(_mm_xor_si128(fold(x0, consts(c.k384)), fold(x1, consts(c.k256))),
                              _mm_xor_si128(fold(x2, consts(c.k128)), x3));
  const __m128i k128 = consts(c.k128);
  while (n >= 16) {
    acc = _mm_xor_si128(fold(acc, k128), load(p));
    p += 16;
    n -= 16;
  }
  alignas(16) unsigned char rest[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(rest), acc);
  uint64_t s = detail::update_sliced<uint64_t>(0, rest, sizeof rest, c.tables);
  return detail::update_sliced<uint64_t>(s, p, n, c.tables);
}
#endif

uint64_t update(const Crc64& c, uint64_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (n >= kMinFold && detail::cpu().pclmul)
    return ~update_clmul(c, ~crc, static_cast<const unsigned char*>(data), n);
#endif
  return update_portable(c, crc, data, n);
}

}  // namespace

uint64_t crc64ecma(uint64_t crc, const void* data, size_t n) { return update(kEcma, crc, data, n); }
uint64_t crc64nvme(uint64_t crc, const void* data, size_t n) { return update(kNvme, crc, data, n); }
uint64_t crc64ecma_portable(uint64_t crc, const void* data, size_t n) {
  return update_portable(kEcma, crc, data, n);
}
uint64_t crc64nvme_portable(uint64_t crc, const void* data, size_t n) {
  return update_portable(kNvme, crc, data, n);
}

uint64_t crc64ecma_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  return detail::combine<uint64_t>(crc_a, crc_b, len_b, kEcmaPoly);
}
uint64_t crc64nvme_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  return detail::combine<uint64_t>(crc_a, crc_b, len_b, kNvmePoly);
}

Acceleration acceleration() {
  Acceleration a;
  a.crc32c = detail::cpu().sse42;
  a.crc64 = detail::cpu().pclmul;
  return a;
}

}  // namespace bucketfs::crc
