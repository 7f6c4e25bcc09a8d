// test_sign.cpp - the signers against published vectors, stage by stage
// (canonical request / string to sign / signature / Authorization header).
//
// Sources of the vectors:
// - SigV4: AWS S3 API reference, "Signature Calculations for the Authorization
//   Header: Transferring Payload in a Single Chunk", examples section.
// - SigV2: AWS S3 developer guide, "Signing and Authenticating REST Requests".
// - OSS V1: OSS API reference "Include a V1 signature in the Authorization
//   header" example, and alibabacloud-oss-go-sdk-v2 signer_test.go (V1 cases).
// - OSS V4: alibabacloud-oss-go-sdk-v2 signer_test.go (TestV4AuthHeader*).
//
// cmocka fails by longjmp, so each check runs in a helper that owns the C++
// objects and returns a bool; the test frame itself only asserts.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/time.hpp"

// cmocka last: its macros clash with names in the C++ headers. Debian's
// cmocka 1.1.5 header has no extern "C" guard of its own.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;
using namespace bucketfs::sign;

namespace {

bool expect_eq(std::string_view what, const std::string& got, std::string_view want) {
  if (got == want) return true;
  std::fprintf(stderr, "%.*s:\n  got:  [%s]\n  want: [%.*s]\n", static_cast<int>(what.size()), what.data(),
               got.c_str(), static_cast<int>(want.size()), want.data());
  return false;
}

std::string header(const SignRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return "<absent>";
}

size_t count_header(const SignRequest& r, std::string_view name) {
  size_t n = 0;
  for (const auto& h : r.headers) n += h.first == name;
  return n;
}

// --- uri_encode ------------------------------------------------------------

bool uri_encode_cases() {
  bool ok = true;
  ok &= expect_eq("space", uri_encode("a b", true), "a%20b");
  ok &= expect_eq("plus", uri_encode("a+b", true), "a%2Bb");
  ok &= expect_eq("unreserved", uri_encode("AZaz09-_.~", true), "AZaz09-_.~");
  ok &= expect_eq("slash kept", uri_encode("a/b/c", false), "a/b/c");
  ok &= expect_eq("slash encoded", uri_encode("a/b", true), "a%2Fb");
  ok &= expect_eq("utf-8",
                  uri_encode("fran\xC3\xA7"
                             "ais/\xD0\xBA",
                             false),
                  "fran%C3%A7ais/%D0%BA");
  ok &= expect_eq("reserved", uri_encode("!*'();:@&=$,?#[]%", true),
                  "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%3F%23%5B%5D%25");
  ok &= expect_eq("dollar", uri_encode("test$file.text", false), "test%24file.text");
  ok &= expect_eq("empty", uri_encode("", true), "");
  ok &= expect_eq("control+high", uri_encode(std::string("\x00\x7f\xff", 3), true), "%00%7F%FF");
  return ok;
}

// --- AWS SigV4 -------------------------------------------------------------

constexpr std::time_t k20130524 = 1369353600;  // 2013-05-24T00:00:00Z
constexpr const char* kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kScope = "20130524/us-east-1/s3/aws4_request";
constexpr const char* kHost = "examplebucket.s3.amazonaws.com";

Credentials aws_creds() {
  return {"AKIAIOSFODNN7EXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""};
}

std::string aws_key() {
  return sigv4::signing_key(Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "20130524", "us-east-1", "s3");
}

// One example checked at every stage: the canonical request built from the
// request as it will be sent, the string to sign, the signature, and sign()
// producing the same Authorization from the bare request.
bool sigv4_example(const char* name, SignRequest bare, std::string payload_hash, std::string_view want_creq,
                   std::string_view want_signed, std::string_view want_creq_hash, std::string_view want_sig) {
  bool ok = true;
  std::string n(name);
  SignRequest full = bare;
  full.headers.emplace_back("x-amz-content-sha256", payload_hash);
  full.headers.emplace_back("x-amz-date", "20130524T000000Z");
  std::string signed_headers;
  std::string creq = sigv4::canonical_request(full, payload_hash, &signed_headers);
  if (!want_creq.empty()) ok &= expect_eq(n + " canonical request", creq, want_creq);
  ok &= expect_eq(n + " signed headers", signed_headers, want_signed);
  std::string sts = sigv4::string_to_sign("20130524T000000Z", kScope, creq);
  ok &=
      expect_eq(n + " string to sign", sts,
                std::string("AWS4-HMAC-SHA256\n20130524T000000Z\n") + kScope + "\n" + std::string(want_creq_hash));
  ok &= expect_eq(n + " signature", sigv4::signature(aws_key(), sts), want_sig);

  sigv4::sign(bare, aws_creds(), "us-east-1", "s3", k20130524, payload_hash);
  ok &= expect_eq(n + " Authorization", header(bare, "Authorization"),
                  std::string("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/") + kScope +
                      ", SignedHeaders=" + std::string(want_signed) + ", Signature=" + std::string(want_sig));
  ok &= expect_eq(n + " x-amz-date", header(bare, "x-amz-date"), "20130524T000000Z");
  ok &= expect_eq(n + " x-amz-content-sha256", header(bare, "x-amz-content-sha256"), payload_hash);
  return ok;
}

bool sigv4_get_object() {
  SignRequest r{"GET", "/test.txt", {}, {{"Host", kHost}, {"Range", "bytes=0-9"}}};
  return sigv4_example("GET object", r, kEmptySha,
                       "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                       "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                       "host;range;x-amz-content-sha256;x-amz-date",
                       "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
                       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

bool sigv4_put_object() {
  std::string hash = crypto::hex(crypto::sha256("Welcome to Amazon S3."));
  bool ok = expect_eq("payload hash", hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SignRequest r{
      "PUT",
      "/" + uri_encode("test$file.text", false),
      {},
      {{"Host", kHost}, {"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}}};
  ok &= sigv4_example("PUT object", r, hash,
                      "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
                      "host:examplebucket.s3.amazonaws.com\n"
                      "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
                      "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
                      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
                      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
                      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  return ok;
}

bool sigv4_get_lifecycle() {
  SignRequest r{"GET", "/", {{"lifecycle", "", false}}, {{"Host", kHost}}};
  return sigv4_example("GET ?lifecycle", r, kEmptySha,
                       "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
                       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                       "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                       "host;x-amz-content-sha256;x-amz-date",
                       "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
                       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

bool sigv4_list_objects() {
  // Given out of order on purpose: the canonical query is sorted.
  SignRequest r{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", kHost}}};
  return sigv4_example("GET ?max-keys=2&prefix=J", r, kEmptySha,
                       "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
                       "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                       "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                       "host;x-amz-content-sha256;x-amz-date",
                       "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
                       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// Canonicalisation rules not covered by the examples.
bool sigv4_canonical_rules() {
  bool ok = true;
  SignRequest r{"GET",
                "",
                {{"b", "x y"}, {"a", "2"}, {"a", "1"}, {"uploads", "", false}, {"k/", "v+/~"}},
                {{"Host", "h"}, {"X-Amz-Meta-A", "  one   two  "}, {"x-amz-meta-a", "three"}}};
  std::string sh;
  ok &= expect_eq("rules creq", sigv4::canonical_request(r, "UNSIGNED-PAYLOAD", &sh),
                  "GET\n/\na=1&a=2&b=x%20y&k%2F=v%2B%2F~&uploads=\nhost:h\nx-amz-meta-a:one two,three\n\n"
                  "host;x-amz-meta-a\nUNSIGNED-PAYLOAD");
  // A session token is signed; re-signing replaces the old headers.
  Credentials c = aws_creds();
  c.session_token = "TOKEN";
  sigv4::sign(r, c, "us-east-1", "s3", k20130524, "UNSIGNED-PAYLOAD");
  sigv4::sign(r, c, "us-east-1", "s3", k20130524 + 1, "UNSIGNED-PAYLOAD");
  ok &= expect_eq("token", header(r, "x-amz-security-token"), "TOKEN");
  ok &= expect_eq("one Authorization", std::to_string(count_header(r, "Authorization")), "1");
  ok &= expect_eq("one x-amz-date", std::to_string(count_header(r, "x-amz-date")), "1");
  ok &= expect_eq("re-signed date", header(r, "x-amz-date"), "20130524T000001Z");
  std::string auth = header(r, "Authorization");
  ok &= expect_eq("token signed", auth.find("x-amz-security-token") != std::string::npos ? "yes" : "no", "yes");
  ok &= expect_eq("auth not signed", auth.find("authorization") == std::string::npos ? "yes" : "no", "yes");
  return ok;
}

// --- AWS SigV2 -------------------------------------------------------------

Secret aws_secret() { return Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"); }

bool sigv2_example(const char* name, SignRequest r, std::string_view resource, std::string_view want_sts,
                   std::string_view want_sig) {
  std::string n(name);
  bool ok = expect_eq(n + " string to sign", sigv2::string_to_sign(r, resource), want_sts);
  ok &= expect_eq(n + " signature", sigv2::signature(aws_secret(), want_sts), want_sig);
  sigv2::sign(r, aws_creds(), resource, 0);
  ok &= expect_eq(n + " Authorization", header(r, "Authorization"),
                  "AWS AKIAIOSFODNN7EXAMPLE:" + std::string(want_sig));
  return ok;
}

bool sigv2_examples() {
  bool ok = true;
  ok &= expect_eq("resource object", sigv2::canonical_resource("johnsmith", "photos/puppy.jpg", {}),
                  "/johnsmith/photos/puppy.jpg");
  ok &= sigv2_example("GET object",
                      {"GET",
                       "/photos/puppy.jpg",
                       {},
                       {{"Host", "johnsmith.s3.amazonaws.com"}, {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"}}},
                      "/johnsmith/photos/puppy.jpg",
                      "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
                      "bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
  ok &= sigv2_example("PUT object",
                      {"PUT",
                       "/photos/puppy.jpg",
                       {},
                       {{"Content-Type", "image/jpeg"},
                        {"Content-Length", "94328"},
                        {"Host", "johnsmith.s3.amazonaws.com"},
                        {"Date", "Tue, 27 Mar 2007 21:15:45 +0000"}}},
                      "/johnsmith/photos/puppy.jpg",
                      "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
                      "MyyxeRY7whkBe+bq8fHCL/2kKUg=");
  // Listing parameters are not sub-resources: the resource is the bucket.
  std::vector<QueryParam> list_q = {{"prefix", "photos"}, {"max-keys", "50"}, {"marker", "puppy"}};
  std::string list_res = sigv2::canonical_resource("johnsmith", "", list_q);
  ok &= expect_eq("resource list", list_res, "/johnsmith/");
  ok &= sigv2_example("List",
                      {"GET",
                       "/",
                       list_q,
                       {{"User-Agent", "Mozilla/5.0"},
                        {"Host", "johnsmith.s3.amazonaws.com"},
                        {"Date", "Tue, 27 Mar 2007 19:42:41 +0000"}}},
                      list_res, "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/",
                      "htDYFYduRNen8P9ZfE/s9SuKy0U=");
  std::vector<QueryParam> acl_q = {{"acl", "", false}};
  std::string acl_res = sigv2::canonical_resource("johnsmith", "", acl_q);
  ok &= expect_eq("resource acl", acl_res, "/johnsmith/?acl");
  ok &= sigv2_example(
      "Fetch ?acl",
      {"GET", "/", acl_q, {{"Host", "johnsmith.s3.amazonaws.com"}, {"Date", "Tue, 27 Mar 2007 19:44:46 +0000"}}},
      acl_res, "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl", "c2WLPFtWHVgbEmeEG93a4cG37dM=");
  // Repeated x-amz-* headers are folded into one, comma-separated.
  ok &= sigv2_example("Upload",
                      {"PUT",
                       "/db-backup.dat.gz",
                       {},
                       {{"User-Agent", "curl/7.15.5"},
                        {"Host", "static.johnsmith.net:8080"},
                        {"Date", "Tue, 27 Mar 2007 21:06:08 +0000"},
                        {"x-amz-acl", "public-read"},
                        {"content-type", "application/x-download"},
                        {"Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="},
                        {"X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"},
                        {"X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"},
                        {"X-Amz-Meta-FileChecksum", "0x02661779"},
                        {"X-Amz-Meta-ChecksumAlgorithm", "crc32"},
                        {"Content-Disposition", "attachment; filename=database.dat"},
                        {"Content-Encoding", "gzip"},
                        {"Content-Length", "5913339"}}},
                      sigv2::canonical_resource("static.johnsmith.net", "/db-backup.dat.gz", {}),
                      "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n"
                      "x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\n"
                      "x-amz-meta-filechecksum:0x02661779\n"
                      "x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n"
                      "/static.johnsmith.net/db-backup.dat.gz",
                      "ilyl83RwaSoYIEdixDQcA4OnAnc=");
  ok &=
      sigv2_example("List all my buckets",
                    {"GET", "/", {}, {{"Host", "s3.amazonaws.com"}, {"Date", "Wed, 28 Mar 2007 01:29:59 +0000"}}},
                    sigv2::canonical_resource("", "", {}), "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/",
                    "qGdzdERIC03wnaRNKh6OqZehG9s=");
  // The key is signed as sent on the wire (percent-encoded).
  ok &= sigv2_example("Unicode keys",
                      {"GET",
                       "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
                       {},
                       {{"Host", "s3.amazonaws.com"}, {"Date", "Wed, 28 Mar 2007 01:49:49 +0000"}}},
                      sigv2::canonical_resource("dictionary", "fran%C3%A7ais/pr%c3%a9f%c3%a8re", {}),
                      "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
                      "DNEZGsoieTZ92F3bUfSPQcbGmlM=");
  // With x-amz-date the Date line is empty and x-amz-date is signed instead.
  SignRequest del{
      "DELETE",
      "/photos/puppy.jpg",
      {},
      {{"Host", "s3.amazonaws.com"}, {"Date", "ignored"}, {"x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"}}};
  ok &= expect_eq("x-amz-date", sigv2::string_to_sign(del, "/johnsmith/photos/puppy.jpg"),
                  "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg");
  // Sub-resources: sorted, raw values, others dropped.
  ok &= expect_eq("subresources",
                  sigv2::canonical_resource("b", "k", {{"uploadId", "a/b+c"}, {"partNumber", "3"}, {"x", "y"}}),
                  "/b/k?partNumber=3&uploadId=a/b+c");
  // sign() adds Date when absent.
  SignRequest nodate{"GET", "/", {}, {{"Host", "h"}}};
  sigv2::sign(nodate, aws_creds(), "/", 1175009802);  // 2007-03-27T15:36:42Z
  ok &= expect_eq("Date added", header(nodate, "Date"), "Tue, 27 Mar 2007 15:36:42 GMT");
  return ok;
}

// --- OSS V1 ----------------------------------------------------------------

bool oss_v1_doc_example() {
  bool ok = true;
  SignRequest r{"PUT",
                "/nelson",
                {},
                {{"Host", "oss-example.oss-cn-hangzhou.aliyuncs.com"},
                 {"Content-MD5", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM="},
                 {"Content-Type", "text/html"},
                 {"Date", "Thu, 17 Nov 2005 18:49:58 GMT"},
                 {"X-OSS-Meta-Author", "foo@bar.com"},
                 {"X-OSS-Magic", "abracadabra"}}};
  std::string res = oss_v1::canonical_resource("oss-example", "nelson", {});
  ok &= expect_eq("resource", res, "/oss-example/nelson");
  const char* want =
      "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n"
      "x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson";
  std::string sts = oss_v1::string_to_sign(r, res);
  ok &= expect_eq("string to sign", sts, want);
  Secret secret("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV");
  ok &= expect_eq("signature", oss_v1::signature(secret, sts), "26NBxoKdsyly4EDv6inkoDft/yA=");
  oss_v1::sign(r, {"44CF9590006BF252F707", secret, ""}, res, 0);
  ok &= expect_eq("Authorization", header(r, "Authorization"),
                  "OSS 44CF9590006BF252F707:26NBxoKdsyly4EDv6inkoDft/yA=");
  ok &= expect_eq("Date kept", header(r, "Date"), "Thu, 17 Nov 2005 18:49:58 GMT");
  return ok;
}

SignRequest oss_v1_sdk_request() {
  return {"PUT",
          "/nelson",
          {},
          {{"Host", "examplebucket.oss-cn-hangzhou.aliyuncs.com"},
           {"Content-MD5", "eB5eJF1ptWaXm4bijSPyxw=="},
           {"Content-Type", "text/html"},
           {"x-oss-meta-author", "alice"},
           {"x-oss-meta-magic", "abracadabra"},
           {"x-oss-date", "Wed, 28 Dec 2022 10:27:41 GMT"}}};
}

bool oss_v1_sdk_examples() {
  bool ok = true;
  const Credentials c{"ak", Secret("sk"), ""};
  const std::string base =
      "PUT\neB5eJF1ptWaXm4bijSPyxw==\ntext/html\nWed, 28 Dec 2022 10:27:41 GMT\n"
      "x-oss-date:Wed, 28 Dec 2022 10:27:41 GMT\nx-oss-meta-author:alice\nx-oss-meta-magic:abracadabra\n"
      "/examplebucket/nelson";
  std::time_t t = *timefmt::parse_http_date("Wed, 28 Dec 2022 10:27:41 GMT");

  // sign() adds the Date header from `now`, which enters the string to sign.
  SignRequest r = oss_v1_sdk_request();
  std::string res = oss_v1::canonical_resource("examplebucket", "nelson", {});
  oss_v1::sign(r, c, res, t);
  ok &= expect_eq("Date added", header(r, "Date"), "Wed, 28 Dec 2022 10:27:41 GMT");
  ok &= expect_eq("string to sign", oss_v1::string_to_sign(r, res), base);
  ok &= expect_eq("signature", oss_v1::signature(c.secret, base), "kSHKmLxlyEAKtZPkJhG9bZb5k7M=");
  ok &= expect_eq("Authorization", header(r, "Authorization"), "OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M=");

  SignRequest acl = oss_v1_sdk_request();
  acl.query = {{"acl", "", false}};
  std::string acl_res = oss_v1::canonical_resource("examplebucket", "nelson", acl.query);
  ok &= expect_eq("acl resource", acl_res, "/examplebucket/nelson?acl");
  oss_v1::sign(acl, c, acl_res, t);
  ok &= expect_eq("acl string to sign", oss_v1::string_to_sign(acl, acl_res), base + "?acl");
  ok &= expect_eq("acl Authorization", header(acl, "Authorization"), "OSS ak:/afkugFbmWDQ967j1vr6zygBLQk=");

  // Resource rules: raw key, bucket-only, no bucket, sub-resources sorted,
  // x-oss-* parameters kept, listing parameters dropped.
  ok &= expect_eq("raw key", oss_v1::canonical_resource("b", "a b+c/d", {}), "/b/a b+c/d");
  ok &= expect_eq("bucket only", oss_v1::canonical_resource("b", "", {}), "/b/");
  ok &= expect_eq("service", oss_v1::canonical_resource("", "", {}), "/");
  ok &= expect_eq("subresources",
                  oss_v1::canonical_resource("b", "k",
                                             {{"uploadId", "U1"},
                                              {"partNumber", "2"},
                                              {"prefix", "p"},
                                              {"x-oss-process", "image/resize,w_10"},
                                              {"uploads", "", false}}),
                  "/b/k?partNumber=2&uploadId=U1&uploads&x-oss-process=image/resize,w_10");
  // A session token is signed as x-oss-security-token.
  SignRequest tok = oss_v1_sdk_request();
  oss_v1::sign(tok, {"ak", Secret("sk"), "TOKEN"}, res, t);
  ok &= expect_eq("token header", header(tok, "x-oss-security-token"), "TOKEN");
  ok &= expect_eq(
      "token signed",
      oss_v1::string_to_sign(tok, res).find("x-oss-security-token:TOKEN\n") != std::string::npos ? "yes" : "no",
      "yes");
  return ok;
}

// --- OSS V4 ----------------------------------------------------------------

SignRequest oss_v4_request() {
  return {"PUT",
          "/1234%2B-/123/1.txt",
          {{"param1", "value1"},
           {"+param1", "value3"},
           {"|param1", "value4"},
           {"+param2", "", false},
           {"|param2", "", false},
           {"param2", "", false}},
          {{"Host", "bucket.oss-cn-hangzhou.aliyuncs.com"},
           {"x-oss-head1", "value"},
           {"abc", "value"},
           {"ZAbc", "value"},
           {"XYZ", "value"},
           {"content-type", "text/plain"},
           {"x-oss-content-sha256", "UNSIGNED-PAYLOAD"}}};
}

bool oss_v4_basic() {
  bool ok = true;
  const Credentials c{"ak", Secret("sk"), ""};
  std::string uri = oss_v4::canonical_uri("bucket", "1234+-/123/1.txt");
  ok &= expect_eq("canonical uri", uri, "/bucket/1234%2B-/123/1.txt");
  ok &= expect_eq("bucket uri", oss_v4::canonical_uri("bucket", ""), "/bucket/");
  ok &= expect_eq("service uri", oss_v4::canonical_uri("", ""), "/");

  SignRequest r = oss_v4_request();
  oss_v4::sign(r, c, "cn-hangzhou", uri, {}, 1702743657);
  ok &= expect_eq("x-oss-date", header(r, "x-oss-date"), "20231216T162057Z");
  ok &= expect_eq("Authorization", header(r, "Authorization"),
                  "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,"
                  "Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe");

  // The stages, from the signed request: only x-oss-*, content-type and
  // content-md5 are signed; value-less parameters are bare names.
  std::string creq = oss_v4::canonical_request(r, uri, {});
  ok &= expect_eq("canonical request", creq,
                  "PUT\n/bucket/1234%2B-/123/1.txt\n"
                  "%2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2\n"
                  "content-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20231216T162057Z\n"
                  "x-oss-head1:value\n\n\nUNSIGNED-PAYLOAD");
  std::string scope = "20231216/cn-hangzhou/oss/aliyun_v4_request";
  std::string sts = oss_v4::string_to_sign("20231216T162057Z", scope, creq);
  ok &= expect_eq("string to sign", sts,
                  "OSS4-HMAC-SHA256\n20231216T162057Z\n" + scope + "\n" + crypto::hex(crypto::sha256(creq)));
  ok &= expect_eq("signature", oss_v4::signature(oss_v4::signing_key(c.secret, "20231216", "cn-hangzhou"), sts),
                  "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe");
  return ok;
}

bool oss_v4_token() {
  SignRequest r = oss_v4_request();
  oss_v4::sign(r, {"ak", Secret("sk"), "token"}, "cn-hangzhou",
               oss_v4::canonical_uri("bucket", "1234+-/123/1.txt"), {}, 1702784856);
  bool ok = expect_eq("token header", header(r, "x-oss-security-token"), "token");
  ok &= expect_eq("Authorization", header(r, "Authorization"),
                  "OSS4-HMAC-SHA256 Credential=ak/20231217/cn-hangzhou/oss/aliyun_v4_request,"
                  "Signature=b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea");
  return ok;
}

bool oss_v4_additional_headers() {
  bool ok = true;
  const std::string want =
      "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=abc;zabc,"
      "Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f";
  std::string uri = oss_v4::canonical_uri("bucket", "1234+-/123/1.txt");
  SignRequest r = oss_v4_request();
  oss_v4::sign(r, {"ak", Secret("sk"), ""}, "cn-hangzhou", uri, {"ZAbc", "abc"}, 1702747512);
  ok &= expect_eq("Authorization", header(r, "Authorization"), want);
  // Default-signed and absent names are dropped from the list.
  SignRequest r2 = oss_v4_request();
  oss_v4::sign(r2, {"ak", Secret("sk"), ""}, "cn-hangzhou", uri, {"x-oss-no-exist", "ZAbc", "x-oss-head1", "abc"},
               1702747512);
  ok &= expect_eq("Authorization (filtered)", header(r2, "Authorization"), want);
  std::string creq = oss_v4::canonical_request(r2, uri, {"ZAbc", "abc"});
  ok &= expect_eq(
      "additional in creq",
      creq.find("\nabc:value\ncontent-type:text/plain\n") != std::string::npos &&
              creq.find("\nx-oss-head1:value\nzabc:value\n\nabc;zabc\nUNSIGNED-PAYLOAD") != std::string::npos
          ? "yes"
          : "no",
      "yes");
  return ok;
}

void test_uri_encode(void**) { assert_true(uri_encode_cases()); }
void test_sigv4_get_object(void**) { assert_true(sigv4_get_object()); }
void test_sigv4_put_object(void**) { assert_true(sigv4_put_object()); }
void test_sigv4_get_lifecycle(void**) { assert_true(sigv4_get_lifecycle()); }
void test_sigv4_list_objects(void**) { assert_true(sigv4_list_objects()); }
void test_sigv4_canonical_rules(void**) { assert_true(sigv4_canonical_rules()); }
void test_sigv2_examples(void**) { assert_true(sigv2_examples()); }
void test_oss_v1_doc_example(void**) { assert_true(oss_v1_doc_example()); }
void test_oss_v1_sdk_examples(void**) { assert_true(oss_v1_sdk_examples()); }
void test_oss_v4_basic(void**) { assert_true(oss_v4_basic()); }
void test_oss_v4_token(void**) { assert_true(oss_v4_token()); }
void test_oss_v4_additional_headers(void**) { assert_true(oss_v4_additional_headers()); }

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uri_encode),          cmocka_unit_test(test_sigv4_get_object),
      cmocka_unit_test(test_sigv4_put_object),    cmocka_unit_test(test_sigv4_get_lifecycle),
      cmocka_unit_test(test_sigv4_list_objects),  cmocka_unit_test(test_sigv4_canonical_rules),
      cmocka_unit_test(test_sigv2_examples),      cmocka_unit_test(test_oss_v1_doc_example),
      cmocka_unit_test(test_oss_v1_sdk_examples), cmocka_unit_test(test_oss_v4_basic),
      cmocka_unit_test(test_oss_v4_token),        cmocka_unit_test(test_oss_v4_additional_headers),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
