// test_store_integrity.cpp - checksums end to end, against the canned server:
// what each body carries (S3 flexible checksums or Content-MD5, learnt from
// the first answer; OSS CRC-64), damaged bodies re-sent and then reported as
// Integrity, ETags that are not MD5s (SSE-KMS) or upper case (OSS) accepted,
// the whole-object CRC combined from the parts and checked at Complete, and
// verify_object() ("is it ours?") on every kind of server.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/store/memory_object_store.hpp"
#include "bucketfs/store/verify.hpp"
#include "bucketfs/util/crc.hpp"
#include "bucketfs/util/digest.hpp"
#include "lib/store_fixture.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;
using namespace bucketfs::store;
using testsupport::Canned;
using testsupport::err_xml;
using Fixture = testsupport::StoreFixture;
using testsupport::fx;
using testsupport::TempFile;
constexpr auto setup = testsupport::store_setup;
constexpr auto teardown = testsupport::store_teardown;

namespace {

std::string md5_hex(const std::string& s) { return crypto::hex(crypto::md5(s)); }
std::string md5_b64(const std::string& s) { return crypto::base64(crypto::md5(s)); }
std::string crc32c_b64(const std::string& s) {
  return crc_base64(Crc{ChecksumAlgo::Crc32c, crc::crc32c(0, s.data(), s.size())});
}
std::string crc64_dec(const std::string& s) { return std::to_string(crc::crc64ecma(0, s.data(), s.size())); }
std::string q(const std::string& s) { return "\"" + s + "\""; }

// A 200 to a PUT of `body` from a server with flexible checksums.
Canned flexible_ok(const std::string& body) {
  return {200, {{"ETag", q(md5_hex(body))}, {"x-amz-checksum-crc32c", crc32c_b64(body)}}, ""};
}

// --- S3: what a body carries, learnt from the first answer -------------------

// Until the server is known, a body carries both Content-MD5 and CRC-32C; a
// server that echoes the CRC verifies flexible checksums, and from then on
// bodies carry only the CRC (no MD5 is computed for it).
void test_flexible_learnt_from_echo(void** state) {
  auto* f = fx(state);
  f->server.push(flexible_ok("hello"));
  f->server.push(flexible_ok("world"));
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  assert_true(f->store->capabilities().body_check == BodyCheck::Flexible);
  assert_true(f->store->put_bytes("k2", "world", {}).ok());
  auto seen = f->server.seen();
  assert_string_equal(seen[0].header("content-md5").c_str(), md5_b64("hello").c_str());
  assert_string_equal(seen[0].header("x-amz-checksum-crc32c").c_str(), crc32c_b64("hello").c_str());
  assert_string_equal(seen[0].header("x-amz-sdk-checksum-algorithm").c_str(), "CRC32C");
  assert_string_equal(seen[1].header("content-md5").c_str(), "");
  assert_string_equal(seen[1].header("x-amz-checksum-crc32c").c_str(), crc32c_b64("world").c_str());
  auto plan = f->store->checksum_plan();
  assert_true(plan.crc == ChecksumAlgo::Crc32c && !plan.md5);
}

// A server that does not echo the CRC (RGW 16, s3rver) gets Content-MD5 only.
void test_content_md5_learnt_without_echo(void** state) {
  auto* f = fx(state);
  f->server.push({200, {{"ETag", q(md5_hex("hello"))}}, ""});
  f->server.push({200, {{"ETag", q(md5_hex("world"))}}, ""});
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  assert_true(f->store->capabilities().body_check == BodyCheck::ContentMd5);
  assert_true(f->store->put_bytes("k2", "world", {}).ok());
  auto seen = f->server.seen();
  assert_string_equal(seen[1].header("content-md5").c_str(), md5_b64("world").c_str());
  assert_string_equal(seen[1].header("x-amz-checksum-crc32c").c_str(), "");
  auto plan = f->store->checksum_plan();
  assert_true(plan.crc == ChecksumAlgo::None && plan.md5);
}

// checksum=md5 never tries flexible checksums.
void test_checksum_md5_option(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.checksum = HttpStoreConfig::Checksum::Md5;
  f->reset(cfg);
  f->server.push({200, {{"ETag", q(md5_hex("hello"))}}, ""});
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  auto s = f->server.seen()[0];
  assert_string_equal(s.header("content-md5").c_str(), md5_b64("hello").c_str());
  assert_string_equal(s.header("x-amz-checksum-crc32c").c_str(), "");
}

// An echoed CRC that is not the one sent: the body arrived damaged. It is
// sent again; three damaged arrivals end in Integrity, never success.
void test_wrong_echo_resent_then_integrity(void** state) {
  auto* f = fx(state);
  Canned wrong{200, {{"ETag", q(md5_hex("hello"))}, {"x-amz-checksum-crc32c", crc32c_b64("hellO")}}, ""};
  for (int i = 0; i < 3; ++i) f->server.push(wrong);
  auto r = f->store->put_bytes("k", "hello", {});
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
  assert_int_equal(f->server.count(), 3);
  // Once damaged, then right: one re-send and success.
  f->server.push(wrong);
  f->server.push(flexible_ok("hello"));
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  assert_int_equal(f->server.count(), 5);
}

// The server refusing the body (BadDigest) is re-sent the same way.
void test_bad_digest_resent(void** state) {
  auto* f = fx(state);
  f->server.push({400, {}, err_xml("BadDigest")});
  f->server.push({200, {{"ETag", q(md5_hex("hello"))}}, ""});
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 2);
  assert_string_equal(seen[1].body.c_str(), "hello");
  for (int i = 0; i < 3; ++i) f->server.push({400, {}, err_xml("BadDigest")});
  auto r = f->store->put_bytes("k", "hello", {});
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
}

// Checksums the caller computed as the bytes were written are sent as given,
// not recomputed from what is read back: the server then refuses bytes that
// changed on disk since (here the given values are of "HELLO").
void test_known_checksums_sent_as_given(void** state) {
  auto* f = fx(state);
  PutOptions opts;
  opts.checksums.md5 = md5_hex("HELLO");
  opts.checksums.crc = Crc{ChecksumAlgo::Crc32c, crc::crc32c(0, "HELLO", 5)};
  for (int i = 0; i < 3; ++i) f->server.push({400, {}, err_xml("BadDigest")});
  auto r = f->store->put_bytes("k", "hello", opts);
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
  for (auto& s : f->server.seen()) {
    assert_string_equal(s.header("content-md5").c_str(), md5_b64("HELLO").c_str());
    assert_string_equal(s.header("x-amz-checksum-crc32c").c_str(), crc32c_b64("HELLO").c_str());
  }
}

// An SSE-KMS answer's ETag is 32 hex digits that are not the MD5: accepted at
// once. An upper-case MD5 ETag (OSS style) is the MD5: accepted at once.
void test_kms_and_upper_case_etags(void** state) {
  auto* f = fx(state);
  f->server.push(
      {200, {{"ETag", q("0123456789abcdef0123456789abcdef")}, {"x-amz-server-side-encryption", "aws:kms"}}, ""});
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  std::string upper = md5_hex("hello");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  f->server.push({200, {{"ETag", q(upper)}}, ""});
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  assert_int_equal(f->server.count(), 2);  // neither re-sent
}

// --- S3 multipart: FULL_OBJECT checksum combined from the parts ---------------

Canned initiate(const std::string& id) {
  return {
      200, {}, "<InitiateMultipartUploadResult><UploadId>" + id + "</UploadId></InitiateMultipartUploadResult>"};
}

void test_multipart_full_object_checksum(void** state) {
  auto* f = fx(state);
  const std::string a(7000, 'a'), b = "tail bytes";
  TempFile file(a + b);
  f->server.push(initiate("up1"));
  f->server.push(flexible_ok(a));
  f->server.push(flexible_ok(b));
  auto up = f->store->create_upload("big.bin", {});
  assert_true(up.ok());
  assert_true(up->algo == ChecksumAlgo::Crc32c);
  auto p1 = f->store->upload_part("big.bin", *up, 1, FileRange{file.fd, 0, a.size()}, {});
  auto p2 = f->store->upload_part("big.bin", *up, 2, FileRange{file.fd, a.size(), b.size()}, {});
  assert_true(p1.ok() && p2.ok());
  assert_true(p1->crc == (Crc{ChecksumAlgo::Crc32c, crc::crc32c(0, a.data(), a.size())}));
  // The first part (server not yet known) carried an MD5 too; once the server
  // is known to verify CRCs, no MD5 is computed.
  assert_string_equal(p1->md5.c_str(), md5_hex(a).c_str());
  assert_string_equal(p2->md5.c_str(), "");
  assert_true(p2->crc == (Crc{ChecksumAlgo::Crc32c, crc::crc32c(0, b.data(), b.size())}));
  // The whole object's CRC, combined from the parts', is the CRC of the bytes.
  const std::string whole = crc32c_b64(a + b);
  f->server.push(
      {200,
       {},
       "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag><ChecksumCRC32C>" + whole +
           "</ChecksumCRC32C><ChecksumType>FULL_OBJECT</ChecksumType></CompleteMultipartUploadResult>"});
  auto done = f->store->complete_upload("big.bin", *up, {*p1, *p2});
  assert_true(done.ok());
  auto seen = f->server.seen();
  assert_string_equal(seen[0].header("x-amz-checksum-algorithm").c_str(), "CRC32C");
  assert_string_equal(seen[0].header("x-amz-checksum-type").c_str(), "FULL_OBJECT");
  assert_string_equal(seen[3].header("x-amz-checksum-crc32c").c_str(), whole.c_str());
  assert_string_equal(seen[3].header("x-amz-checksum-type").c_str(), "FULL_OBJECT");
  assert_non_null(
      strstr(seen[3].body.c_str(), ("<ChecksumCRC32C>" + crc32c_b64(b) + "</ChecksumCRC32C>").c_str()));
  // A Complete answer whose checksum is not the parts' is Integrity: the
  // object in the bucket is not what was sent.
  f->server.push({200,
                  {},
                  "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag><ChecksumCRC32C>" + crc32c_b64("other") +
                      "</ChecksumCRC32C></CompleteMultipartUploadResult>"});
  auto bad = f->store->complete_upload("big.bin", *up, {*p1, *p2});
  assert_false(bad.ok());
  assert_int_equal(static_cast<int>(bad.error().code), static_cast<int>(ErrorCode::Integrity));
}

// A part refused as damaged is sent again from the file.
void test_part_resent_after_damage(void** state) {
  auto* f = fx(state);
  const std::string data = "part data";
  TempFile file(data);
  f->server.push({200, {{"ETag", q(md5_hex("part dat?"))}}, ""});  // the server got other bytes
  f->server.push({200, {{"ETag", q(md5_hex(data))}}, ""});
  auto p = f->store->upload_part("k", MultipartUpload{"up", ChecksumAlgo::None}, 3,
                                 FileRange{file.fd, 0, data.size()}, {});
  assert_true(p.ok());
  assert_string_equal(p->md5.c_str(), md5_hex(data).c_str());
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 2);
  assert_string_equal(seen[1].body.c_str(), data.c_str());
  assert_non_null(strstr(seen[1].target.c_str(), "partNumber=3"));
}

// --- OSS: CRC-64/ECMA on every body and on the completed object --------------

void use_oss(Fixture* f, int sigv) {
  auto cfg = testsupport::cfg_for(f->server);
  cfg.dialect = Dialect::OSS;
  cfg.sig_version = sigv;
  cfg.region = "cn-hangzhou";
  f->reset(cfg);
}

void test_oss_crc64_on_put_and_parts(void** state) {
  auto* f = fx(state);
  use_oss(f, 1);
  std::string upper = md5_hex("hello");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  f->server.push({200, {{"ETag", q(upper)}, {"x-oss-hash-crc64ecma", crc64_dec("hello")}}, ""});
  assert_true(f->store->put_bytes("k", "hello", {}).ok());
  auto s0 = f->server.seen()[0];
  assert_non_null(strstr(s0.header("authorization").c_str(), "OSS AKID:"));
  assert_string_equal(s0.header("x-amz-checksum-crc32c").c_str(), "");
  assert_string_equal(s0.header("content-md5").c_str(), "");  // the CRC is checked after, on OSS
  // A wrong CRC is damage: re-sent, three times at most, then Integrity.
  for (int i = 0; i < 3; ++i)
    f->server.push({200, {{"ETag", q(upper)}, {"x-oss-hash-crc64ecma", crc64_dec("hellO")}}, ""});
  auto r = f->store->put_bytes("k", "hello", {});
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
  assert_int_equal(f->server.count(), 4);
  // Parts carry the CRC the server reported, in the record's form.
  const std::string data(5000, 'z');
  TempFile file(data);
  f->server.push({200, {{"ETag", q("ANYTHING")}, {"x-oss-hash-crc64ecma", crc64_dec(data)}}, ""});
  auto p = f->store->upload_part("k", MultipartUpload{"up", ChecksumAlgo::Crc64Ecma}, 1,
                                 FileRange{file.fd, 0, 5000}, {});
  assert_true(p.ok());
  assert_true(p->crc == (Crc{ChecksumAlgo::Crc64Ecma, crc::crc64ecma(0, data.data(), data.size())}));
}

// OSS V4 signing and header names on the OSS dialect; the completed object's
// CRC-64 must be the one combined from the parts'.
void test_oss_complete_checks_whole_crc(void** state) {
  auto* f = fx(state);
  use_oss(f, 4);
  const std::string a(3000, 'a'), b(1000, 'b');
  std::vector<PartInfo> parts = {
      {1, a.size(), "E1", "", Crc{ChecksumAlgo::Crc64Ecma, crc::crc64ecma(0, a.data(), a.size())}},
      {2, b.size(), "E2", "", Crc{ChecksumAlgo::Crc64Ecma, crc::crc64ecma(0, b.data(), b.size())}},
  };
  MultipartUpload up{"up9", ChecksumAlgo::Crc64Ecma};
  const std::string body = "<CompleteMultipartUploadResult><ETag>\"E-2\"</ETag></CompleteMultipartUploadResult>";
  f->server.push({200, {{"x-oss-hash-crc64ecma", crc64_dec(a + b)}}, body});
  assert_true(f->store->complete_upload("k", up, parts).ok());
  auto s = f->server.seen()[0];
  assert_non_null(strstr(s.header("authorization").c_str(), "OSS4-HMAC-SHA256 Credential=AKID/"));
  assert_false(s.header("x-oss-date").empty());
  assert_string_equal(s.header("x-amz-checksum-type").c_str(), "");
  f->server.push({200, {{"x-oss-hash-crc64ecma", crc64_dec(a + a)}}, body});
  auto r = f->store->complete_upload("k", up, parts);
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
  // HEAD reports the whole CRC; verify_object decides by it.
  f->server.push(
      {200, {{"Content-Length", "4000"}, {"ETag", q("E-2")}, {"x-oss-hash-crc64ecma", crc64_dec(a + b)}}, ""});
  ObjectExpectation want{4000, true, parts, "", {}};
  auto v = verify_object(*f->store, "k", want);
  assert_true(v.ok() && v->verdict == Verdict::Yes);
  assert_string_equal(v->how.c_str(), "crc64ecma");
}

// --- verify_object on every kind of server (MemoryObjectStore) ---------------

struct Made {
  std::vector<PartInfo> parts;
  std::string data;
};

// Uploads `data` in two parts to `key` (first part 10 bytes, min part size 1).
bool upload_two_parts(MemoryObjectStore& m, const std::string& key, const std::string& data, TempFile& file,
                      Made* out) {
  auto up = m.create_upload(key, {});
  if (!up) return false;
  auto p1 = m.upload_part(key, *up, 1, FileRange{file.fd, 0, 10}, {});
  auto p2 = m.upload_part(key, *up, 2, FileRange{file.fd, 10, data.size() - 10}, {});
  if (!p1 || !p2) return false;
  out->parts = {*p1, *p2};
  out->data = data;
  return m.complete_upload(key, *up, out->parts).ok();
}

Verdict verdict(MemoryObjectStore& m, const std::string& key, const ObjectExpectation& w,
                std::string* how = nullptr) {
  auto v = verify_object(m, key, w);
  if (!v) return Verdict::Unknown;
  if (how) *how = v->how;
  return v->verdict;
}

bool verify_by_kind_of_server() {
  const std::string data = "0123456789abcdefghij";
  TempFile file(data);
  TempFile other("0123456789abcdefghiJ");
  bool ok = true;
  auto expect = [&](const char* what, Verdict got, Verdict want) {
    if (got != want) {
      std::fprintf(stderr, "%s: got %s want %s\n", what, name(got), name(want));
      ok = false;
    }
  };
  using Style = MemoryObjectStore::EtagStyle;
  {
    MemoryObjectStore m(1);  // S3 with flexible checksums: decided by the CRC
    Made made;
    ok &= upload_two_parts(m, "k", data, file, &made);
    std::string how;
    expect("crc", verdict(m, "k", {20, true, made.parts, "", {}}, &how), Verdict::Yes);
    ok &= how == "crc32c";
    auto tampered = made.parts;
    tampered[1].crc.value ^= 1;
    expect("crc mismatch", verdict(m, "k", {20, true, tampered, "", {}}), Verdict::No);
    expect("size", verdict(m, "k", {21, true, made.parts, "", {}}), Verdict::No);
    expect("missing", verdict(m, "nope", {20, true, made.parts, "", {}}), Verdict::No);
  }
  {
    MemoryObjectStore m(1);  // RGW 16: no checksums, multipart ETag
    m.set_reports_checksums(false);
    Made made;
    ok &= upload_two_parts(m, "k", data, file, &made);
    expect("multipart etag", verdict(m, "k", {20, true, made.parts, "", {}}), Verdict::Yes);
    auto tampered = made.parts;
    tampered[0].md5 = md5_hex("x");
    tampered[0].etag = md5_hex("x");  // the server answered that part for other bytes
    expect("multipart etag mismatch", verdict(m, "k", {20, true, tampered, "", {}}), Verdict::No);
    // Parts whose answered ETags make the object's: ours, whatever our MD5s
    // (RGW's SSE-KMS parts: the answered ETags are what the object's is made of).
    auto answered = made.parts;
    for (auto& p : answered) p.md5.clear();
    expect("multipart etag of answers", verdict(m, "k", {20, true, answered, "", {}}), Verdict::Yes);
  }
  {
    MemoryObjectStore m(1);  // OSS-like upper-case ETags, no checksum reported
    m.set_reports_checksums(false);
    m.set_etag_style(Style::UpperMd5);
    Made made;
    ok &= upload_two_parts(m, "k", data, file, &made);
    expect("upper-case etag", verdict(m, "k", {20, true, made.parts, "", {}}), Verdict::Yes);
  }
  {
    MemoryObjectStore m(1);  // s3rver: a multipart object has the plain MD5
    m.set_reports_checksums(false);
    m.set_etag_style(Style::PlainMultipart);
    Made made;
    ok &= upload_two_parts(m, "k", data, file, &made);
    expect("whole md5 from file", verdict(m, "k", {20, true, made.parts, "", FileRange{file.fd, 0, 20}}),
           Verdict::Yes);
    expect("whole md5 given", verdict(m, "k", {20, true, made.parts, md5_hex(data), {}}), Verdict::Yes);
    expect("other file", verdict(m, "k", {20, true, made.parts, "", FileRange{other.fd, 0, 20}}), Verdict::No);
    expect("no file", verdict(m, "k", {20, true, made.parts, "", {}}), Verdict::Unknown);
  }
  {
    MemoryObjectStore m(1);  // SSE-KMS: the ETag says nothing, and nothing else does
    m.set_reports_checksums(false);
    m.set_etag_style(Style::Opaque);
    Made made;
    ok &= upload_two_parts(m, "k", data, file, &made);
    expect("kms", verdict(m, "k", {20, true, made.parts, md5_hex(data), FileRange{file.fd, 0, 20}}),
           Verdict::Unknown);
  }
  {
    MemoryObjectStore m(1);  // a single PUT is judged by its own MD5
    m.set_reports_checksums(false);
    ok &= m.put_bytes("s", data, {}).ok();
    PartInfo whole{1, 20, "", md5_hex(data), {}};
    expect("single put", verdict(m, "s", {20, false, {whole}, "", {}}), Verdict::Yes);
    whole.md5 = md5_hex("y");
    expect("single put mismatch", verdict(m, "s", {20, false, {whole}, "", {}}), Verdict::No);
  }
  return ok;
}

void test_verify_object_by_kind_of_server(void**) { assert_true(verify_by_kind_of_server()); }

// The memory store refuses what a real server refuses: given checksums that
// do not match the bytes.
void test_memory_store_verifies_given_checksums(void**) {
  MemoryObjectStore m(1);
  PutOptions opts;
  opts.checksums.crc = Crc{ChecksumAlgo::Crc32c, 12345};
  auto r = m.put_bytes("k", "hello", opts);
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
  opts.checksums.crc = Crc{ChecksumAlgo::Crc32c, crc::crc32c(0, "hello", 5)};
  opts.checksums.md5 = md5_hex("hello");
  assert_true(m.put_bytes("k", "hello", opts).ok());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_flexible_learnt_from_echo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_content_md5_learnt_without_echo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_checksum_md5_option, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_echo_resent_then_integrity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_digest_resent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_known_checksums_sent_as_given, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kms_and_upper_case_etags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_multipart_full_object_checksum, setup, teardown),
      cmocka_unit_test_setup_teardown(test_part_resent_after_damage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oss_crc64_on_put_and_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oss_complete_checks_whole_crc, setup, teardown),
      cmocka_unit_test(test_verify_object_by_kind_of_server),
      cmocka_unit_test(test_memory_store_verifies_given_checksums),
  };
  return cmocka_run_group_tests_name("store integrity", tests, nullptr, nullptr);
}
