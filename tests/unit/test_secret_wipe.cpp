// test_secret_wipe.cpp - no heap block is freed while it still holds the
// secret or a key derived from it.
//
// The global operator new/delete are replaced here (malloc/free underneath),
// so every block a std::string gives back passes through scan() first; while
// armed, scan() counts the blocks that still contain one of the watched byte
// patterns. Watched: the secret, "AWS4"/"aliyun_v4" + secret, and every
// intermediate and final key of the SigV4 and OSS V4 derivations, computed
// here independently with crypto::hmac_sha256.
#include <malloc.h>
#include <string.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/secret.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;

namespace {

constexpr size_t kMaxPatterns = 8;
struct Pattern {
  std::array<char, 96> bytes{};
  size_t n = 0;
};
// Plain arrays: the scanner must not allocate.
Pattern g_patterns[kMaxPatterns];
std::atomic<size_t> g_count{0};
std::atomic<int> g_hits[kMaxPatterns];
std::atomic<bool> g_armed{false};

void scan(void* p) {
  if (p == nullptr || !g_armed.load(std::memory_order_relaxed)) return;
  const size_t n = ::malloc_usable_size(p);
  for (size_t i = 0; i < g_count; ++i)
    if (::memmem(p, n, g_patterns[i].bytes.data(), g_patterns[i].n) != nullptr) ++g_hits[i];
}

void* allocate(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return allocate(n); }
void* operator new[](size_t n) { return allocate(n); }
void operator delete(void* p) noexcept {
  scan(p);
  std::free(p);
}
void operator delete[](void* p) noexcept {
  scan(p);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  scan(p);
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  scan(p);
  std::free(p);
}

namespace {

// Watches `bytes` but its first byte (clear() zeroes that one and leaves the
// rest, so a cleared buffer still counts); returns its index.
size_t watch(const std::string& bytes) {
  size_t i = g_count;
  assert_true(i < kMaxPatterns && bytes.size() > 8 && bytes.size() <= g_patterns[i].bytes.size());
  memcpy(g_patterns[i].bytes.data(), bytes.data() + 1, bytes.size() - 1);
  g_patterns[i].n = bytes.size() - 1;
  g_hits[i] = 0;
  g_count = i + 1;
  return i;
}

int reset(void**) {
  g_armed = false;
  g_count = 0;
  return 0;
}

// Two 40-character secrets (the length of an AWS secret key: on the heap).
const std::string kSecretA = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const std::string kSecretB = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";

void expect_no_hits(const char* what) {
  for (size_t i = 0; i < g_count; ++i)
    if (g_hits[i] != 0)
      fail_msg("%s: %d freed block(s) still held watched pattern %zu", what, g_hits[i].load(), i);
}

// The scanner itself: a plain string freed with the secret is seen.
void test_scanner_sees_an_unwiped_block(void**) {
  watch(kSecretA);
  g_armed = true;
  { std::string plain = kSecretA + "!"; }
  g_armed = false;
  assert_true(g_hits[0] >= 1);
}

void test_destroyed_secret_is_wiped(void**) {
  watch(kSecretA);
  g_armed = true;
  { Secret s{std::string(kSecretA)}; }
  g_armed = false;
  expect_no_hits("destroyed Secret");
}

// Replacing a secret by assignment must wipe the buffer it gave up; a string
// hands its old buffer to the moved-from source, or frees it on regrowth.
void test_assigned_over_secret_is_wiped(void**) {
  watch(kSecretA);
  g_armed = true;
  {
    Secret a{std::string(kSecretA)};
    a = Secret{std::string(kSecretB)};  // move-assign
    Secret c{std::string(kSecretA)};
    Secret longer{std::string(kSecretB) + kSecretB + kSecretB};
    c = longer;  // copy-assign into a larger buffer
  }
  g_armed = false;
  expect_no_hits("assigned-over Secret");
}

std::string hmac(const std::string& key, const std::string& data) { return crypto::hmac_sha256(key, data); }

// Watches prefix+secret and each key of the chain HMAC(prefix+secret, steps...).
void watch_chain(const std::string& prefix, const std::vector<std::string>& steps) {
  std::string key = prefix + kSecretA;
  watch(key);
  for (const auto& step : steps) {
    key = hmac(key, step);
    watch(key);
  }
}

sign::Credentials creds() {
  sign::Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret = Secret(std::string(kSecretA));
  return c;
}

sign::SignRequest request() {
  sign::SignRequest r;
  r.method = "PUT";
  r.path = "/bucket/some/key.bin";
  r.headers = {{"host", "s3.example.com"}, {"content-type", "application/octet-stream"}};
  return r;
}

// 2015-08-30T12:36:00Z, the date of AWS's published SigV4 examples.
constexpr std::time_t kNow = 1440938160;

void test_sigv4_derived_keys_are_wiped(void**) {
  watch_chain("AWS4", {"20150830", "us-east-1", "s3", "aws4_request"});
  sign::Credentials c = creds();
  sign::SignRequest r = request();
  g_armed = true;
  sign::sigv4::sign(r, c, "us-east-1", "s3", kNow, "UNSIGNED-PAYLOAD");
  g_armed = false;
  expect_no_hits("sigv4::sign");
  assert_non_null(strstr(r.headers.back().second.c_str(), "Signature="));
}

void test_oss_v4_derived_keys_are_wiped(void**) {
  watch_chain("aliyun_v4", {"20150830", "cn-hangzhou", "oss", "aliyun_v4_request"});
  sign::Credentials c = creds();
  sign::SignRequest r = request();
  g_armed = true;
  sign::oss_v4::sign(r, c, "cn-hangzhou", "/bucket/some/key.bin", {}, kNow);
  g_armed = false;
  expect_no_hits("oss_v4::sign");
  assert_non_null(strstr(r.headers.back().second.c_str(), "Signature="));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_scanner_sees_an_unwiped_block, reset, reset),
      cmocka_unit_test_setup_teardown(test_destroyed_secret_is_wiped, reset, reset),
      cmocka_unit_test_setup_teardown(test_assigned_over_secret_is_wiped, reset, reset),
      cmocka_unit_test_setup_teardown(test_sigv4_derived_keys_are_wiped, reset, reset),
      cmocka_unit_test_setup_teardown(test_oss_v4_derived_keys_are_wiped, reset, reset),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
