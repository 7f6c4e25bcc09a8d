// crc_gf2.hpp - polynomial arithmetic modulo a CRC polynomial, in the
// reflected bit order the reflected CRCs use (bit W-1 is x^0, bit 0 is
// x^(W-1)), and the slice-by-8 tables. Shared by crc32c.cpp and crc64.cpp;
// not a public header.
//
// Why it is enough for combine: with init == xorout (all ones here),
// crc(a||b) = crc(a) * x^(8*len(b)) + crc(b)  (mod P)  (zlib's crc32_combine).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace bucketfs::crc::detail {

template <class T>
constexpr T kTop = T(1) << (sizeof(T) * 8 - 1);  // x^0

// a * b mod P; poly is P without its x^W term, reflected.
template <class T>
constexpr T mul_mod(T a, T b, T poly) {
  T product = 0;
  for (T m = kTop<T>; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ poly : b >> 1;
  }
  return product;
}

// x^n mod P by squaring: x^(2^k) for k = 0..63 are computed on the way.
template <class T>
constexpr T x_pow_mod(uint64_t n, T poly) {
  T result = kTop<T>;       // x^0
  T square = kTop<T> >> 1;  // x^1
  while (n != 0) {
    if (n & 1) result = mul_mod<T>(result, square, poly);
    square = mul_mod<T>(square, square, poly);
    n >>= 1;
  }
  return result;
}

template <class T>
constexpr T combine(T crc_a, T crc_b, uint64_t len_b, T poly) {
  return mul_mod<T>(x_pow_mod<T>(len_b * 8, poly), crc_a, poly) ^ crc_b;
}

// Slice-by-8 tables: t[0] is the byte-at-a-time table, t[k][i] the CRC of
// byte i followed by k zero bytes.
template <class T>
using Tables = std::array<std::array<T, 256>, 8>;

template <class T>
constexpr Tables<T> make_tables(T poly) {
  Tables<T> t{};
  for (unsigned i = 0; i < 256; ++i) {
    T c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[0][i] = c;
  }
  for (unsigned i = 0; i < 256; ++i)
    for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}

// The CPU features the accelerated paths need, checked once.
struct CpuFeatures {
  bool sse42 = false;
  bool pclmul = false;  // with SSE4.1 for the 128-bit loads and extracts
};
inline const CpuFeatures& cpu() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(__x86_64__)
    __builtin_cpu_init();  // may run before libgcc's own constructor
    f.sse42 = __builtin_cpu_supports("sse4.2");
    f.pclmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
    return f;
  }();
  return features;
}

inline uint64_t load_le64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // x86-64 and the other targets Debian builds bucketfs for are little-endian
}

// The raw (not inverted) register update, eight bytes at a time. For a
// 32-bit CRC the state covers the first four of the eight bytes; the other
// four are data only, and every byte's contribution comes from the tables.
template <class T>
T update_sliced(T state, const unsigned char* p, size_t n, const Tables<T>& t) {
  while (n >= 8) {
    uint64_t v = load_le64(p) ^ static_cast<uint64_t>(state);
    state = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF] ^
            t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) state = t[0][(state ^ *p++) & 0xFF] ^ (state >> 8);
  return state;
}

}  // namespace bucketfs::crc::detail
