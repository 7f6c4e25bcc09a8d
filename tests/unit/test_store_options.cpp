// test_store_options.cpp - encryption and object options on the wire: SSE-KMS
// and storage class on what creates an object (not on parts), SSE-C on every
// request that touches the bytes (and as copy-source headers on copies, never
// in an error message), Content-Type from the extension, copies that keep the
// source's class and encryption, copies over the single-copy limit made part
// by part; and the parsing of sse=, the SSE-C key file and storage_class=.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "bucketfs/store/checksums.hpp"
#include "bucketfs/store/object_options.hpp"
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
using Fixture = testsupport::StoreFixture;
using testsupport::fx;
using testsupport::TempFile;
constexpr auto setup = testsupport::store_setup;
constexpr auto teardown = testsupport::store_teardown;

namespace {

const std::string kKey = "0123456789abcdef0123456789ABCDEF";  // 32 bytes

Canned ok_put(const std::string& body) {
  return {200, {{"ETag", "\"" + crypto::hex(crypto::md5(body)) + "\""}}, ""};
}
Canned initiate() {
  return {200, {}, "<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"};
}

void test_kms_and_storage_class(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.encryption = parse_sse("aws:kms:key-7", Dialect::S3).value();
  cfg.storage_class = "STANDARD_IA";
  cfg.checksum = HttpStoreConfig::Checksum::Md5;
  f->reset(cfg);
  f->server.push(ok_put("x"));
  f->server.push(initiate());
  f->server.push(ok_put("y"));
  assert_true(f->store->put_bytes("a.json", "x", {}).ok());
  auto up = f->store->create_upload("b", {});
  assert_true(up.ok());
  TempFile y("y");
  assert_true(f->store->upload_part("b", *up, 1, FileRange{y.fd, 0, 1}, {}).ok());
  auto seen = f->server.seen();
  for (int i : {0, 1}) {
    assert_string_equal(seen[i].header("x-amz-server-side-encryption").c_str(), "aws:kms");
    assert_string_equal(seen[i].header("x-amz-server-side-encryption-aws-kms-key-id").c_str(), "key-7");
    assert_string_equal(seen[i].header("x-amz-storage-class").c_str(), "STANDARD_IA");
  }
  // Content-Type from the extension unless given.
  assert_string_equal(seen[0].header("content-type").c_str(), "application/json");
  assert_string_equal(seen[1].header("content-type").c_str(), "application/octet-stream");
  // A part repeats none of it (S3 refuses SSE-KMS headers on UploadPart).
  assert_string_equal(seen[2].header("x-amz-server-side-encryption").c_str(), "");
  assert_string_equal(seen[2].header("x-amz-storage-class").c_str(), "");
}

// SSE-C: the key goes with every request that reads or writes the bytes.
void test_sse_c_everywhere_never_in_messages(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.encryption.mode = Encryption::Mode::CustomerKey;
  cfg.encryption.customer_key = Secret(kKey);
  cfg.checksum = HttpStoreConfig::Checksum::Md5;
  f->reset(cfg);
  const std::string b64 = crypto::base64(kKey), md5 = crypto::base64(crypto::md5(kKey));
  TempFile x("x");
  f->server.push(ok_put("x"));                                              // put
  f->server.push({200, {{"Content-Length", "1"}, {"ETag", "\"e\""}}, ""});  // head
  f->server.push({206, {{"Content-Range", "bytes 0-0/1"}}, "x"});           // get
  f->server.push(ok_put("x"));                                              // part
  f->server.push({200, {}, "<CompleteMultipartUploadResult><ETag>\"m-1\"</ETag></CompleteMultipartUploadResult>"});
  f->server.push({403, {}, testsupport::err_xml("AccessDenied")});  // head, denied
  assert_true(f->store->put_bytes("k", "x", {}).ok());
  assert_true(f->store->head("k").ok());
  assert_true(get_bytes(*f->store, "k", 0, 1).ok());
  MultipartUpload up{"u1", ChecksumAlgo::None};
  auto part = f->store->upload_part("k", up, 1, FileRange{x.fd, 0, 1}, {});
  assert_true(part.ok());
  assert_true(f->store->complete_upload("k", up, {*part}).ok());
  auto denied = f->store->head("k");
  assert_false(denied.ok());
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 6);
  for (auto& s : seen) {
    assert_string_equal(s.header("x-amz-server-side-encryption-customer-algorithm").c_str(), "AES256");
    assert_string_equal(s.header("x-amz-server-side-encryption-customer-key").c_str(), b64.c_str());
    assert_string_equal(s.header("x-amz-server-side-encryption-customer-key-md5").c_str(), md5.c_str());
  }
  assert_null(strstr(denied.error().describe().c_str(), b64.c_str()));
  assert_null(strstr(denied.error().describe().c_str(), kKey.c_str()));
  // An object stored without SSE-C: S3 refuses the key headers (400); the
  // HEAD is asked again without them.
  f->server.push({400, {}, ""});
  f->server.push({200, {{"Content-Length", "3"}, {"ETag", "\"e\""}}, ""});
  auto plain = f->store->head("plain");
  assert_true(plain.ok());
  assert_int_equal(plain->size, 3);
  assert_string_equal(f->server.seen().back().header("x-amz-server-side-encryption-customer-key").c_str(), "");
  // A copy of an SSE-C object reads it with the key and writes it with the key.
  f->server.push(
      {200,
       {{"Content-Length", "1"}, {"ETag", "\"e\""}, {"x-amz-server-side-encryption-customer-algorithm", "AES256"}},
       ""});
  f->server.push({200, {}, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>"});
  assert_true(f->store->copy("k", "k2", std::nullopt).ok());
  auto copy = f->server.seen().back();
  assert_string_equal(copy.header("x-amz-copy-source-server-side-encryption-customer-key").c_str(), b64.c_str());
  assert_string_equal(copy.header("x-amz-copy-source-server-side-encryption-customer-algorithm").c_str(),
                      "AES256");
  assert_string_equal(copy.header("x-amz-server-side-encryption-customer-key").c_str(), b64.c_str());
}

// A copy keeps what the source's HEAD says: content type (COPY directive),
// storage class and encryption; a chmod (REPLACE) gives the type explicitly.
void test_copy_keeps_class_and_encryption(void** state) {
  auto* f = fx(state);
  Canned src_head{200,
                  {{"Content-Length", "5"},
                   {"ETag", "\"e\""},
                   {"Content-Type", "text/plain"},
                   {"x-amz-storage-class", "GLACIER_IR"},
                   {"x-amz-server-side-encryption", "aws:kms"},
                   {"x-amz-server-side-encryption-aws-kms-key-id", "kms-1"},
                   {"x-amz-meta-mode", "33188"}},
                  ""};
  const std::string copied = "<CopyObjectResult><ETag>\"e2\"</ETag></CopyObjectResult>";
  f->server.push(src_head);
  f->server.push({200, {}, copied});
  assert_true(f->store->copy("from.txt", "to.txt", std::nullopt).ok());
  PutOptions chmod;
  chmod.meta = {{"mode", "33261"}};
  chmod.content_type = "text/plain";
  f->server.push(src_head);
  f->server.push({200, {}, copied});
  assert_true(f->store->copy("to.txt", "to.txt", chmod).ok());
  auto seen = f->server.seen();
  assert_string_equal(seen[0].method.c_str(), "HEAD");
  const auto& rename = seen[1];
  assert_string_equal(rename.header("x-amz-copy-source").c_str(), "/bkt/from.txt");
  assert_string_equal(rename.header("x-amz-metadata-directive").c_str(), "COPY");
  assert_string_equal(rename.header("x-amz-storage-class").c_str(), "GLACIER_IR");
  assert_string_equal(rename.header("x-amz-server-side-encryption").c_str(), "aws:kms");
  assert_string_equal(rename.header("x-amz-server-side-encryption-aws-kms-key-id").c_str(), "kms-1");
  const auto& replace = seen[3];
  assert_string_equal(replace.header("x-amz-metadata-directive").c_str(), "REPLACE");
  assert_string_equal(replace.header("content-type").c_str(), "text/plain");
  assert_string_equal(replace.header("x-amz-meta-mode").c_str(), "33261");
  assert_string_equal(replace.header("x-amz-storage-class").c_str(), "GLACIER_IR");
}

// Over the single-copy limit: a multipart upload filled by part copies of
// copy_part_size, with the source's metadata and class, then completed.
void test_large_copy_goes_in_parts(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.max_single_copy = 10;
  cfg.copy_part_size = 10;
  f->reset(cfg);
  f->server.push({200,
                  {{"Content-Length", "25"},
                   {"ETag", "\"e\""},
                   {"Content-Type", "video/mp4"},
                   {"x-amz-storage-class", "STANDARD_IA"},
                   {"x-amz-meta-mtime", "1700000000"}},
                  ""});
  f->server.push(initiate());
  for (int i = 0; i < 3; ++i)
    f->server.push({200, {}, "<CopyPartResult><ETag>\"p" + std::to_string(i + 1) + "\"</ETag></CopyPartResult>"});
  f->server.push({200, {}, "<CompleteMultipartUploadResult><ETag>\"m-3\"</ETag></CompleteMultipartUploadResult>"});
  auto r = f->store->copy("big", "big2", std::nullopt);
  assert_true(r.ok());
  assert_string_equal(r->c_str(), "m-3");
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 6);
  assert_string_equal(seen[1].target.c_str(), "/bkt/big2?uploads");
  assert_string_equal(seen[1].header("content-type").c_str(), "video/mp4");
  assert_string_equal(seen[1].header("x-amz-meta-mtime").c_str(), "1700000000");
  assert_string_equal(seen[1].header("x-amz-storage-class").c_str(), "STANDARD_IA");
  assert_string_equal(seen[1].header("x-amz-checksum-algorithm").c_str(), "");
  const char* ranges[] = {"bytes=0-9", "bytes=10-19", "bytes=20-24"};
  for (int i = 0; i < 3; ++i) {
    assert_string_equal(seen[2 + i].header("x-amz-copy-source-range").c_str(), ranges[i]);
    assert_string_equal(seen[2 + i].header("x-amz-copy-source").c_str(), "/bkt/big");
  }
  assert_non_null(strstr(seen[5].body.c_str(), "<PartNumber>3</PartNumber><ETag>\"p3\"</ETag>"));
}

// A server that cannot copy an encrypted object (Ceph 16: NotImplemented)
// gets its bytes through us: read, checked against the source's CRC, sent
// again with the source's encryption. Bytes that do not match are not sent.
void test_encrypted_copy_through_client(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.checksum = HttpStoreConfig::Checksum::Md5;
  f->reset(cfg);
  const std::string data = "hello";
  const std::string crc = crc_base64(Crc{ChecksumAlgo::Crc32c, crc::crc32c(0, data.data(), data.size())});
  Canned src_head{200,
                  {{"Content-Length", "5"},
                   {"ETag", "\"e\""},
                   {"x-amz-server-side-encryption", "aws:kms"},
                   {"x-amz-server-side-encryption-aws-kms-key-id", "k9"},
                   {"x-amz-checksum-crc32c", crc}},
                  ""};
  f->server.push(src_head);
  f->server.push({501, {}, testsupport::err_xml("NotImplemented")});
  f->server.push({206, {{"Content-Range", "bytes 0-4/5"}}, data});
  f->server.push(ok_put(data));
  auto r = f->store->copy("a", "b", std::nullopt);
  assert_true(r.ok());
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 4);
  assert_string_equal(seen[2].method.c_str(), "GET");
  assert_string_equal(seen[3].method.c_str(), "PUT");
  assert_string_equal(seen[3].target.c_str(), "/bkt/b");
  assert_string_equal(seen[3].body.c_str(), "hello");
  assert_string_equal(seen[3].header("x-amz-copy-source").c_str(), "");
  assert_string_equal(seen[3].header("x-amz-server-side-encryption").c_str(), "aws:kms");
  assert_string_equal(seen[3].header("x-amz-server-side-encryption-aws-kms-key-id").c_str(), "k9");
  // The same with bytes that are not the source's: nothing is written.
  f->server.push(src_head);
  f->server.push({501, {}, testsupport::err_xml("NotImplemented")});
  f->server.push({206, {{"Content-Range", "bytes 0-4/5"}}, "hellO"});
  auto bad = f->store->copy("a", "b", std::nullopt);
  assert_false(bad.ok());
  assert_true(bad.error().code == ErrorCode::Integrity);
  assert_int_equal(f->server.count(), 7);
}

// OSS names for the same options.
void test_oss_option_headers(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.dialect = Dialect::OSS;
  cfg.sig_version = 4;
  cfg.region = "cn-hangzhou";
  cfg.encryption = parse_sse("KMS:cmk-1", Dialect::OSS).value();
  cfg.storage_class = "IA";
  f->reset(cfg);
  f->server.push(
      {200, {{"ETag", "\"E\""}, {"x-oss-hash-crc64ecma", std::to_string(crc::crc64ecma(0, "oss", 3))}}, ""});
  auto r = f->store->put_bytes("k", "oss", {});
  assert_true(r.ok());
  auto s = f->server.seen()[0];
  assert_string_equal(s.header("x-oss-server-side-encryption").c_str(), "KMS");
  assert_string_equal(s.header("x-oss-server-side-encryption-key-id").c_str(), "cmk-1");
  assert_string_equal(s.header("x-oss-storage-class").c_str(), "IA");
  assert_string_equal(s.header("x-amz-storage-class").c_str(), "");
}

// --- parsing --------------------------------------------------------------------

bool parse_sse_cases() {
  bool ok = true;
  auto mode = [](std::string_view spec, Dialect d) {
    auto r = parse_sse(spec, d);
    return r ? static_cast<int>(r->mode) : -1;
  };
  ok &= mode("AES256", Dialect::S3) == static_cast<int>(Encryption::Mode::Managed);
  ok &= mode("aws:kms", Dialect::S3) == static_cast<int>(Encryption::Mode::Kms);
  ok &= parse_sse("aws:kms:arn:aws:kms:us-east-1:1:key/k", Dialect::S3)->kms_key_id ==
        "arn:aws:kms:us-east-1:1:key/k";
  ok &= mode("KMS", Dialect::OSS) == static_cast<int>(Encryption::Mode::Kms);
  ok &= parse_sse("KMS:cmk", Dialect::OSS)->kms_key_id == "cmk";
  ok &= mode("SM4", Dialect::OSS) == static_cast<int>(Encryption::Mode::Sm4);
  for (auto bad : {"kms", "aws:kms:", "aws:kmsx", "SM4", "", "KMS"}) ok &= mode(bad, Dialect::S3) == -1;
  for (auto bad : {"aws:kms", "KMS:", "kms"}) ok &= mode(bad, Dialect::OSS) == -1;
  auto msg = parse_sse("bogus", Dialect::S3);
  ok &= !msg && msg.error().find("aws:kms:KEYID") != std::string::npos;
  ok &= check_storage_class("STANDARD_IA").ok() && check_storage_class("IA").ok();
  ok &= !check_storage_class("bad class").ok() && !check_storage_class("").ok();
  return ok;
}

std::string write_key_file(const std::string& content, mode_t mode) {
  char path[] = "/tmp/bucketfs-ssec-XXXXXX";
  int fd = mkstemp(path);
  if (write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) return "";
  fchmod(fd, mode);
  close(fd);
  return path;
}

bool key_file_cases() {
  bool ok = true;
  std::string raw = write_key_file(kKey, 0600);
  std::string b64 = write_key_file(crypto::base64(kKey) + "\n", 0400);
  std::string open_to_all = write_key_file(kKey, 0644);
  std::string short_key = write_key_file("too short", 0600);
  auto a = load_customer_key(raw);
  auto b = load_customer_key(b64);
  ok &= a && a->reveal() == kKey && b && b->reveal() == kKey;
  auto c = load_customer_key(open_to_all);
  ok &= !c && c.error().find("chmod 600") != std::string::npos;
  auto d = load_customer_key(short_key);
  ok &= !d && d.error().find("256-bit") != std::string::npos && d.error().find("too short") == std::string::npos;
  auto e = load_customer_key("/nonexistent/key");
  ok &= !e && e.error().find("/nonexistent/key") != std::string::npos;
  for (auto& p : {raw, b64, open_to_all, short_key}) unlink(p.c_str());
  return ok;
}

void test_parse_sse(void**) { assert_true(parse_sse_cases()); }
void test_key_file(void**) { assert_true(key_file_cases()); }

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kms_and_storage_class, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sse_c_everywhere_never_in_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_keeps_class_and_encryption, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_copy_goes_in_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_encrypted_copy_through_client, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oss_option_headers, setup, teardown),
      cmocka_unit_test(test_parse_sse),
      cmocka_unit_test(test_key_file),
  };
  return cmocka_run_group_tests_name("store options", tests, nullptr, nullptr);
}
