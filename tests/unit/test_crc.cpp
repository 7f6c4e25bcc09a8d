// test_crc.cpp - CRC-32C, CRC-64/ECMA (as OSS) and CRC-64/NVME: published
// check values, the OSS SDKs' test vectors, accelerated == portable at every
// length and alignment around the folding boundaries, chunked == one-shot,
// and combine() at every split point.
//
// cmocka fails by longjmp, so each check runs in a helper that owns the C++
// objects and returns a bool; the test frame itself only asserts.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bucketfs/util/crc.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace crc = bucketfs::crc;

namespace {

bool expect(const char* what, uint64_t got, uint64_t want) {
  if (got == want) return true;
  std::fprintf(stderr, "%s: got %016llx want %016llx\n", what, static_cast<unsigned long long>(got),
               static_cast<unsigned long long>(want));
  return false;
}

std::vector<unsigned char> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& c : v) c = static_cast<unsigned char>(rng());
  return v;
}

// One CRC flavour, so every property below is checked for all three.
struct Flavour {
  const char* name;
  uint64_t (*fast)(uint64_t, const void*, size_t);
  uint64_t (*portable)(uint64_t, const void*, size_t);
  uint64_t (*combine)(uint64_t, uint64_t, uint64_t);
  uint64_t mask;  // the CRC's width
};

const Flavour kFlavours[] = {
    {"crc32c", [](uint64_t c, const void* d, size_t n) -> uint64_t { return crc::crc32c(uint32_t(c), d, n); },
     [](uint64_t c, const void* d, size_t n) -> uint64_t { return crc::crc32c_portable(uint32_t(c), d, n); },
     [](uint64_t a, uint64_t b, uint64_t l) -> uint64_t {
       return crc::crc32c_combine(uint32_t(a), uint32_t(b), l);
     },
     0xFFFFFFFFull},
    {"crc64ecma", crc::crc64ecma, crc::crc64ecma_portable, crc::crc64ecma_combine, ~0ull},
    {"crc64nvme", crc::crc64nvme, crc::crc64nvme_portable, crc::crc64nvme_combine, ~0ull},
};

bool check_values() {
  bool ok = true;
  // The CRC catalogue's check values (CRC-32/ISCSI, CRC-64/XZ, CRC-64/NVME).
  ok &= expect("crc32c(123456789)", crc::crc32c(0, "123456789", 9), 0xE3069283u);
  ok &= expect("crc64ecma(123456789)", crc::crc64ecma(0, "123456789", 9), 0x995DC9BBDF1939FAull);
  ok &= expect("crc64nvme(123456789)", crc::crc64nvme(0, "123456789", 9), 0xAE8B14860A799888ull);
  // The OSS SDKs' own vectors: Java/Go "123456789" (as a signed long
  // -7395533204333446662), .NET "This is a test." = 2186167744391481992.
  ok &= expect("oss 123456789", crc::crc64ecma(0, "123456789", 9), static_cast<uint64_t>(-7395533204333446662ll));
  ok &= expect("oss This is a test.", crc::crc64ecma(0, "This is a test.", 15), 2186167744391481992ull);
  for (const auto& f : kFlavours) {
    ok &= expect(f.name, f.fast(0, "", 0), 0);
    ok &= expect(f.name, f.portable(0, "123456789", 9), f.fast(0, "123456789", 9));
  }
  return ok;
}

// The accelerated paths switch strategy at 16, 64 and (CRC-32C) 3 * 4096
// bytes: every length around those, at every alignment, with a nonzero
// starting CRC, must equal the table code.
bool accelerated_equals_portable() {
  auto data = random_bytes(3 * 4096 * 2 + 200, 1);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
  for (size_t n : {1023u, 1024u, 1025u, 12287u, 12288u, 12289u, 12288u * 2 + 17}) lengths.push_back(n);
  bool ok = true;
  for (const auto& f : kFlavours)
    for (size_t n : lengths)
      for (size_t align = 0; align < 16 && align + n <= data.size(); align += 5) {
        uint64_t start = 0x0123456789ABCDEFull & f.mask;
        uint64_t a = f.fast(start, data.data() + align, n);
        uint64_t b = f.portable(start, data.data() + align, n);
        if (a != b) {
          std::fprintf(stderr, "%s: n=%zu align=%zu\n", f.name, n, align);
          ok &= expect(f.name, a, b);
        }
      }
  return ok;
}

bool chunked_equals_whole() {
  auto data = random_bytes(100000, 2);
  bool ok = true;
  for (const auto& f : kFlavours) {
    uint64_t whole = f.fast(0, data.data(), data.size());
    for (size_t chunk : {1u, 7u, 64u, 777u, 4096u, 65536u}) {
      uint64_t c = 0;
      for (size_t pos = 0; pos < data.size(); pos += chunk)
        c = f.fast(c, data.data() + pos, std::min(chunk, data.size() - pos));
      ok &= expect(f.name, c, whole);
    }
  }
  return ok;
}

// crc(a||b) == combine(crc(a), crc(b), |b|) at every split of random data,
// and for a multipart-like list of parts folded left to right.
bool combine_at_every_split() {
  auto data = random_bytes(777, 3);
  bool ok = true;
  for (const auto& f : kFlavours) {
    uint64_t whole = f.fast(0, data.data(), data.size());
    for (size_t split = 0; split <= data.size(); ++split) {
      uint64_t a = f.fast(0, data.data(), split);
      uint64_t b = f.fast(0, data.data() + split, data.size() - split);
      if (f.combine(a, b, data.size() - split) != whole) {
        std::fprintf(stderr, "%s: combine wrong at split %zu\n", f.name, split);
        ok = false;
      }
    }
    // Parts of uneven sizes, combined without the bytes (the OSS SDK way).
    auto big = random_bytes(1 << 20, 4);
    uint64_t acc = 0;
    size_t pos = 0;
    for (size_t len : {100000u, 333333u, 1u, 0u, 500000u}) {
      acc = f.combine(acc, f.fast(0, big.data() + pos, len), len);
      pos += len;
    }
    ok &= expect(f.name, acc, f.fast(0, big.data(), pos));
  }
  // The OSS Python SDK's combine vector: "12345" + "67890".
  ok &= expect("oss combine",
               crc::crc64ecma_combine(crc::crc64ecma(0, "12345", 5), crc::crc64ecma(0, "67890", 5), 5),
               crc::crc64ecma(0, "1234567890", 10));
  // A part of 5 GiB: the length is only an exponent, no bytes needed.
  uint64_t zeros = crc::crc64ecma(0, std::string(4096, '\0').data(), 4096);
  uint64_t z = 0;
  for (int i = 0; i < 16; ++i) z = crc::crc64ecma_combine(z, zeros, 4096);
  ok &= expect("combine of zeros", z, crc::crc64ecma(0, std::string(65536, '\0').data(), 65536));
  return ok;
}

void test_check_values(void**) { assert_true(check_values()); }
void test_accelerated(void**) {
  auto a = crc::acceleration();
  std::printf("# acceleration: crc32c %s, crc64 %s\n", a.crc32c ? "sse4.2" : "tables",
              a.crc64 ? "pclmul" : "tables");
  assert_true(accelerated_equals_portable());
}
void test_chunked(void**) { assert_true(chunked_equals_whole()); }
void test_combine(void**) { assert_true(combine_at_every_split()); }

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_values),
      cmocka_unit_test(test_accelerated),
      cmocka_unit_test(test_chunked),
      cmocka_unit_test(test_combine),
  };
  return cmocka_run_group_tests_name("crc", tests, nullptr, nullptr);
}
