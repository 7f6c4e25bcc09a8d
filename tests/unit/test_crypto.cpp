// test_crypto.cpp - hashes, HMAC and encodings against known values (the CRCs:
// test_crc.cpp).
//
// cmocka fails by longjmp, so each check runs in a helper that owns the C++
// objects and returns a bool; the test frame itself only asserts.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/md5_lanes.hpp"

// cmocka last: its macros (fail, ...) clash with names in the C++ headers.
// Debian's cmocka 1.1.5 header has no extern "C" guard of its own.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace crypto = bucketfs::crypto;

namespace {

bool expect_eq(std::string_view what, const std::string& got, std::string_view want) {
  if (got == want) return true;
  std::fprintf(stderr, "%.*s:\n  got:  %s\n  want: %.*s\n", static_cast<int>(what.size()), what.data(),
               got.c_str(), static_cast<int>(want.size()), want.data());
  return false;
}

bool digests_known() {
  bool ok = true;
  ok &= expect_eq("sha256('')", crypto::hex(crypto::sha256("")),
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ok &= expect_eq("sha256('abc')", crypto::hex(crypto::sha256("abc")),
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ok &= expect_eq("sha256(Welcome)", crypto::hex(crypto::sha256("Welcome to Amazon S3.")),
                  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  ok &= expect_eq("md5('')", crypto::hex(crypto::md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  ok &= expect_eq("md5('abc')", crypto::hex(crypto::md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  ok &= expect_eq("md5 size", std::to_string(crypto::md5("x").size()), "16");
  return ok;
}

// RFC 4231 test case 2 and RFC 2202 test case 2 ("Jefe").
bool hmac_known() {
  bool ok = true;
  ok &= expect_eq("hmac_sha256(Jefe)", crypto::hex(crypto::hmac_sha256("Jefe", "what do ya want for nothing?")),
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  ok &= expect_eq("hmac_sha1(Jefe)", crypto::hex(crypto::hmac_sha1("Jefe", "what do ya want for nothing?")),
                  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  ok &= expect_eq("hmac_sha256 empty data", crypto::hex(crypto::hmac_sha256("key", "")),
                  "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
  return ok;
}

bool incremental_matches_one_shot() {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  bool ok = true;
  crypto::Md5 md5;
  crypto::Sha256 sha;
  // Uneven chunks, including empty ones.
  size_t pos = 0, step = 0;
  while (pos < data.size()) {
    size_t n = std::min(data.size() - pos, step * 37 % 5000);
    md5.update(data.data() + pos, n);
    sha.update(data.data() + pos, n);
    pos += n;
    ++step;
  }
  ok &= expect_eq("Md5 incremental", crypto::hex(md5.finish()), crypto::hex(crypto::md5(data)));
  ok &= expect_eq("Sha256 incremental", crypto::hex(sha.finish()), crypto::hex(crypto::sha256(data)));
  // finish() resets: the next digest starts from nothing.
  ok &= expect_eq("Md5 after finish", crypto::hex(md5.finish()), "d41d8cd98f00b204e9800998ecf8427e");
  md5.update("abc", 3);
  md5.reset();
  md5.update("abc", 3);
  ok &= expect_eq("Md5 reset", crypto::hex(md5.finish()), "900150983cd24fb0d6963f7d28e17f72");
  // Moving keeps the running state.
  sha.update("a", 1);
  crypto::Sha256 moved(std::move(sha));
  moved.update("bc", 2);
  ok &= expect_eq("Sha256 moved", crypto::hex(moved.finish()),
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  crypto::Md5 assigned;
  assigned = std::move(md5);
  assigned.update("abc", 3);
  ok &= expect_eq("Md5 move-assigned", crypto::hex(assigned.finish()), "900150983cd24fb0d6963f7d28e17f72");
  return ok;
}

// RFC 4648 section 10 vectors, both directions.
bool base64_round_trip() {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  bool ok = true;
  for (int i = 0; i < 7; ++i) {
    ok &= expect_eq("base64", crypto::base64(plain[i]), enc[i]);
    std::string back;
    ok &= expect_eq("base64_decode ok", crypto::base64_decode(enc[i], &back) ? "yes" : "no", "yes");
    ok &= expect_eq("base64_decode", back, plain[i]);
  }
  std::string bin;
  for (int i = 0; i < 256; ++i) bin.push_back(static_cast<char>(i));
  std::string back;
  ok &= expect_eq("binary round trip ok", crypto::base64_decode(crypto::base64(bin), &back) ? "yes" : "no", "yes");
  ok &= expect_eq("binary round trip", crypto::hex(back), crypto::hex(bin));
  // MD5 of "" as Content-MD5 carries it.
  ok &= expect_eq("content-md5('')", crypto::base64(crypto::md5("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
  for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm 9"}) {
    std::string out = "untouched";
    ok &= expect_eq(std::string("reject ") + bad, crypto::base64_decode(bad, &out) ? "accepted" : "rejected",
                    "rejected");
    ok &= expect_eq("output untouched on error", out, "untouched");
  }
  return ok;
}

// Streams of every length that meets a block edge (and long ones), in groups
// of every size from 1 to 11 (more than one pass of eight), with lanes that
// end at different times: each digest must be OpenSSL's.
bool lanes_match_openssl() {
  bool ok = true;
  std::mt19937_64 rng(7);
  std::string pool(3 * 1024 * 1024 + 777, '\0');
  for (auto& c : pool) c = static_cast<char>(rng());
  const size_t lengths[] = {
      0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4096, 65537, 262144, 262145, 3 * 1024 * 1024};
  for (size_t group = 1; group <= 11; ++group) {
    for (size_t start = 0; start < std::size(lengths); ++start) {
      std::vector<std::string_view> in;
      for (size_t i = 0; i < group; ++i)
        in.push_back(std::string_view(pool).substr(i * 13, lengths[(start + i * 5) % std::size(lengths)]));
      std::vector<std::string> got = crypto::md5_many(in);
      ok &= expect_eq("count", std::to_string(got.size()), std::to_string(in.size()));
      for (size_t i = 0; i < in.size() && i < got.size(); ++i)
        ok &= expect_eq(
            "md5_many of " + std::to_string(in[i].size()) + " bytes in a group of " + std::to_string(group),
            crypto::hex(got[i]), crypto::hex(crypto::md5(in[i])));
    }
  }
  return ok;
}

// File spans (read 256 KiB at a time) give the same digests; a span past the
// end of the file or on a bad descriptor gives "", and the others still hash.
bool spans_match_openssl() {
  bool ok = true;
  char path[] = "/tmp/bucketfs-md5-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return false;
  ::unlink(path);
  std::mt19937_64 rng(11);
  std::string data(5 * 1024 * 1024 + 3, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  ok &= ::pwrite(fd, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size());
  std::vector<crypto::FileSpan> spans;
  std::vector<std::string> want;
  for (uint64_t i = 0; i < 9; ++i) {
    uint64_t off = i * 300001, len = i == 3 ? 0 : 1024 * 1024 + i * 70000;
    spans.push_back({fd, off, len});
    want.push_back(crypto::hex(crypto::md5(std::string_view(data).substr(off, len))));
  }
  spans.push_back({fd, data.size() - 10, 11});  // one byte past the end
  want.push_back("");
  spans.push_back({-1, 0, 64});
  want.push_back("");
  std::vector<std::string> got = crypto::md5_file_spans(spans);
  ok &= expect_eq("count", std::to_string(got.size()), std::to_string(spans.size()));
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    ok &= expect_eq("span " + std::to_string(i), got[i].empty() ? "" : crypto::hex(got[i]), want[i]);
  ::close(fd);
  return ok;
}

void test_digests(void**) { assert_true(digests_known()); }
void test_md5_lanes(void**) {
  std::fprintf(stderr, "md5 lanes: %s\n", crypto::md5_lanes_vectorised() ? "AVX2" : "portable only");
  assert_true(lanes_match_openssl());
  assert_true(spans_match_openssl());
}
void test_md5_lanes_portable(void**) {
  crypto::md5_lanes_force_portable(true);
  bool ok = lanes_match_openssl() && spans_match_openssl();
  crypto::md5_lanes_force_portable(false);
  assert_true(ok);
}
void test_hmac(void**) { assert_true(hmac_known()); }
void test_incremental(void**) { assert_true(incremental_matches_one_shot()); }
void test_base64(void**) { assert_true(base64_round_trip()); }

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digests),
      cmocka_unit_test(test_md5_lanes),
      cmocka_unit_test(test_md5_lanes_portable),
      cmocka_unit_test(test_hmac),
      cmocka_unit_test(test_incremental),
      cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
