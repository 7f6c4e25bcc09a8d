// crc32c.cpp - CRC-32C: the SSE4.2 crc32 instruction where the CPU has it
// (checked once), slice-by-8 tables otherwise. See crc.hpp.
//
// Three independent crc32 streams over adjacent blocks keep the instruction's
// pipeline full (latency 3, one per cycle); the three results are joined with
// the same shift-and-add as combine(), using precomputed x^(8*block) mod P.
#include <cstring>

#include "bucketfs/util/crc.hpp"
#include "crc_gf2.hpp"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace bucketfs::crc {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // 0x1EDC6F41 reflected
constexpr detail::Tables<uint32_t> kTables = detail::make_tables<uint32_t>(kPoly);

#if defined(__x86_64__)
constexpr size_t kBlock = 4096;  // bytes per stream in the three-way loop
// Shifting a raw register over kBlock (2*kBlock) zero bytes is a multiplication.
constexpr uint32_t kShift1 = detail::x_pow_mod<uint32_t>(8 * kBlock, kPoly);
constexpr uint32_t kShift2 = detail::x_pow_mod<uint32_t>(16 * kBlock, kPoly);

__attribute__((target("sse4.2"))) uint32_t crc_stream(uint32_t state, const unsigned char* p, size_t n) {
  uint64_t s = state;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    s = _mm_crc32_u64(s, v);
    p += 8;
    n -= 8;
  }
  auto s32 = static_cast<uint32_t>(s);
  while (n-- > 0) s32 = _mm_crc32_u8(s32, *p++);
  return s32;
}

__attribute__((target("sse4.2"))) uint32_t update_hw(uint32_t state, const unsigned char* p, size_t n) {
  while (n >= 3 * kBlock) {
    uint64_t a = state, b = 0, c = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      uint64_t va, vb, vc;
      std::memcpy(&va, p + i, 8);
      std::memcpy(&vb, p + kBlock + i, 8);
      std::memcpy(&vc, p + 2 * kBlock + i, 8);
      a = _mm_crc32_u64(a, va);
      b = _mm_crc32_u64(b, vb);
      c = _mm_crc32_u64(c, vc);
    }
    // Raw registers are linear: state(A||B||C) = a*x^(2 blocks) + b*x^(1 block) + c.
    state = detail::mul_mod<uint32_t>(static_cast<uint32_t>(a), kShift2, kPoly) ^
            detail::mul_mod<uint32_t>(static_cast<uint32_t>(b), kShift1, kPoly) ^ static_cast<uint32_t>(c);
    p += 3 * kBlock;
    n -= 3 * kBlock;
  }
  return crc_stream(state, p, n);
}
#endif

}  // namespace

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n) {
  return ~detail::update_sliced<uint32_t>(~crc, static_cast<const unsigned char*>(data), n, kTables);
}

uint32_t crc32c(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (detail::cpu().sse42) return ~update_hw(~crc, static_cast<const unsigned char*>(data), n);
#endif
  return crc32c_portable(crc, data, n);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return detail::combine<uint32_t>(crc_a, crc_b, len_b, kPoly);
}

}  // namespace bucketfs::crc
