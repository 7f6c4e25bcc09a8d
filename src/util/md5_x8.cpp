// md5_x8.cpp - (internal to src/util) MD5 blocks of eight streams at once,
// one stream per 32-bit lane of an AVX2 vector. Built with -mavx2 (see the
// Makefile) and called only when the CPU has AVX2 (md5_lanes.cpp checks), so
// nothing in this file may have external linkage but md5_compress_x8: an
// inline function instantiated here with AVX2 code could otherwise replace
// the portable copy elsewhere.
// Empty but on x86-64, where the Makefile adds -mavx2.
#if defined(__x86_64__)
#include <immintrin.h>

#include "md5_steps.hpp"

namespace bucketfs::crypto {
namespace {

struct Avx2 {
  using W = __m256i;
  static W add(W a, W b) { return _mm256_add_epi32(a, b); }
  static W band(W a, W b) { return _mm256_and_si256(a, b); }
  static W bor(W a, W b) { return _mm256_or_si256(a, b); }
  static W bxor(W a, W b) { return _mm256_xor_si256(a, b); }
  static W bnot(W a) { return _mm256_xor_si256(a, _mm256_set1_epi32(-1)); }
  static W constant(uint32_t k) { return _mm256_set1_epi32(static_cast<int>(k)); }
  template <int S>
  static W rotl(W a) {
    return _mm256_or_si256(_mm256_slli_epi32(a, S), _mm256_srli_epi32(a, 32 - S));
  }
};

// Words 8h..8h+7 of one block of each lane, turned so that out[j] holds word
// 8h+j of every lane (an 8x8 transpose of 32-bit words).
inline void load_words(const unsigned char* const p[8], size_t at, __m256i out[8]) {
  __m256i r[8];
  for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[l] + at));
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x20);
    out[j + 4] = _mm256_permute2x128_si256(u[j], u[4 + j], 0x31);
  }
}

}  // namespace

// state[w][l] is word w of lane l's state; p[l] points at lane l's blocks.
void md5_compress_x8(uint32_t state[4][8], const unsigned char* const p[8], size_t blocks) {
  __m256i v[4];
  for (int w = 0; w < 4; ++w) v[w] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[w]));
  for (size_t b = 0; b < blocks; ++b) {
    __m256i m[16];
    load_words(p, b * 64, m);
    load_words(p, b * 64 + 32, m + 8);
    md5_block<Avx2>(v, m);
  }
  for (int w = 0; w < 4; ++w) _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[w]), v[w]);
}

}  // namespace bucketfs::crypto

#endif  // __x86_64__
