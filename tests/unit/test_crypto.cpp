// test_crypto.cpp - hashes, HMAC and encodings against known values (the CRCs:
// test_crc.cpp).
//
// cmocka fails by longjmp, so each check runs in a helper that owns the C++
// objects and returns a bool; the test frame itself only asserts.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "bucketfs/util/digest.hpp"

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

void test_digests(void**) { assert_true(digests_known()); }
void test_hmac(void**) { assert_true(hmac_known()); }
void test_incremental(void**) { assert_true(incremental_matches_one_shot()); }
void test_base64(void**) { assert_true(base64_round_trip()); }

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digests),
      cmocka_unit_test(test_hmac),
      cmocka_unit_test(test_incremental),
      cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
