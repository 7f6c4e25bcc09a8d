// md5_steps.hpp - (internal to src/util) the 64 steps of MD5's compression
// function (RFC 1321, 3.4), written once over a "word" type so that the same
// code hashes one stream (uint32_t) or eight (AVX2 lanes, md5_x8.cpp).
//
// Everything here has internal linkage: md5_x8.cpp is compiled with -mavx2,
// and nothing it instantiates may be shared with the portable objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace bucketfs::crypto {
namespace {

constexpr uint32_t kMd5K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

constexpr int kMd5Shift[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

constexpr uint32_t kMd5Init[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

// The message word step i reads.
constexpr int md5_word(int i) {
  return i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16;
}

// Step I on the state v (the roles of a, b, c and d turn by one each step).
// Ops supplies add, bitwise and/or/xor/not, rotl<S> and a broadcast of a
// constant for the word type W.
template <class Ops, int I, class W>
inline void md5_step(W (&v)[4], const W* m) {
  constexpr int r = I % 4;
  W& a = v[(4 - r) % 4];
  const W b = v[(5 - r) % 4], c = v[(6 - r) % 4], d = v[(7 - r) % 4];
  W f;
  if constexpr (I < 16)
    f = Ops::bxor(d, Ops::band(b, Ops::bxor(c, d)));
  else if constexpr (I < 32)
    f = Ops::bxor(c, Ops::band(d, Ops::bxor(b, c)));
  else if constexpr (I < 48)
    f = Ops::bxor(Ops::bxor(b, c), d);
  else
    f = Ops::bxor(c, Ops::bor(b, Ops::bnot(d)));
  // a + K + word does not wait on b (the previous step), so only f, one add,
  // the rotation and the last add lie on the chain from step to step.
  W t = Ops::add(f, Ops::add(a, Ops::add(Ops::constant(kMd5K[I]), m[md5_word(I)])));
  a = Ops::add(b, Ops::template rotl<kMd5Shift[(I / 16) * 4 + r]>(t));
}

template <class Ops, class W, int... I>
inline void md5_steps(W (&v)[4], const W* m, std::integer_sequence<int, I...>) {
  (md5_step<Ops, I>(v, m), ...);
}

// One block: v += the 64 steps over the 16 words m.
template <class Ops, class W>
inline void md5_block(W (&v)[4], const W* m) {
  W s[4] = {v[0], v[1], v[2], v[3]};
  md5_steps<Ops>(s, m, std::make_integer_sequence<int, 64>{});
  for (int i = 0; i < 4; ++i) v[i] = Ops::add(v[i], s[i]);
}

}  // namespace
}  // namespace bucketfs::crypto
