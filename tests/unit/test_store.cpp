// test_store.cpp - the store's error mapping and retry policy, and
// HttpObjectStore's handling of server answers, against a canned loopback server.
#include <cerrno>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/http/transport.hpp"
#include "bucketfs/store/http_object_store.hpp"
#include "bucketfs/util/time.hpp"
#include "lib/store_fixture.hpp"

using namespace bucketfs;
using namespace bucketfs::store;
using testsupport::Canned;
using testsupport::err_xml;
using testsupport::FakeHttpServer;
using Fixture = testsupport::StoreFixture;
constexpr auto setup = testsupport::store_setup;
constexpr auto teardown = testsupport::store_teardown;

namespace {

void test_errno_mapping(void**) {
  auto e = [](ErrorCode c) { return to_errno(Error{c, 0, "", "", ""}); };
  assert_int_equal(e(ErrorCode::NoSuchKey), ENOENT);
  assert_int_equal(e(ErrorCode::NoSuchBucket), ENOENT);
  assert_int_equal(e(ErrorCode::AccessDenied), EACCES);
  assert_int_equal(e(ErrorCode::SignatureMismatch), EACCES);
  assert_int_equal(e(ErrorCode::Unsupported), ENOTSUP);
  assert_int_equal(e(ErrorCode::KeyTooLong), ENAMETOOLONG);
  assert_int_equal(e(ErrorCode::InvalidArgument), EINVAL);
  assert_int_equal(e(ErrorCode::Transient), EIO);
  assert_int_equal(e(ErrorCode::Integrity), EIO);
  assert_int_equal(e(ErrorCode::Cancelled), ECANCELED);
  assert_true(is_retryable(ErrorCode::Transient));
  assert_true(is_retryable(ErrorCode::Throttled));
  assert_false(is_retryable(ErrorCode::AccessDenied));
  assert_false(is_retryable(ErrorCode::NoSuchKey));
  Error full{ErrorCode::AccessDenied, 403, "AccessDenied", "no", "r1"};
  assert_string_equal(full.describe().c_str(), "AccessDenied (403 AccessDenied): no [request id r1]");
}

// Every code has a class, every class a budget; the ones that do not heal by
// waiting give up first, and the explanation says what to check.
void test_error_classes(void**) {
  auto cls = [](ErrorCode c) { return error_class(c); };
  assert_true(cls(ErrorCode::Transient) == ErrorClass::Transient);
  assert_true(cls(ErrorCode::Throttled) == ErrorClass::Throttled);
  assert_true(cls(ErrorCode::SignatureMismatch) == ErrorClass::Auth);
  assert_true(cls(ErrorCode::ClockSkew) == ErrorClass::Auth);
  assert_true(cls(ErrorCode::NoSuchUpload) == ErrorClass::NotFound);
  assert_true(cls(ErrorCode::Integrity) == ErrorClass::Integrity);
  assert_true(cls(ErrorCode::LocalIo) == ErrorClass::Local);
  assert_true(cls(ErrorCode::InvalidArgument) == ErrorClass::Permanent);
  assert_true(cls(ErrorCode::Other) == ErrorClass::Permanent);
  assert_true(default_budget(ErrorClass::Transient).passes > default_budget(ErrorClass::Auth).passes);
  assert_true(default_budget(ErrorClass::Auth).passes > default_budget(ErrorClass::Permanent).passes);
  assert_int_equal(default_budget(ErrorClass::Local).passes, 0);
  assert_true(default_budget(ErrorClass::Integrity).passes > 0);
  assert_true(default_budget(ErrorClass::Throttled).backoff_cap_s >=
              default_budget(ErrorClass::Transient).backoff_cap_s);
  Error denied{ErrorCode::SignatureMismatch, 403, "SignatureDoesNotMatch", "", "r"};
  assert_non_null(strstr(explain(denied).c_str(), "check the secret key"));
  assert_non_null(strstr(explain(denied).c_str(), "403 SignatureDoesNotMatch"));
}

void test_retry_policy(void**) {
  http::RetryPolicy p{5, 100, 1000, 3000};
  // Doubling steps, capped, jittered within [d/2, d].
  assert_int_equal(p.delay_ms(1, 0.0), 50);
  assert_int_equal(p.delay_ms(1, 1.0), 100);
  assert_int_equal(p.delay_ms(2, 1.0), 200);
  assert_int_equal(p.delay_ms(3, 0.5), 300);
  assert_int_equal(p.delay_ms(10, 1.0), 1000);
  assert_int_equal(p.delay_ms(60, 1.0), 1000);  // no overflow far out
  for (int r = 1; r < 20; ++r) {
    long d = p.delay_ms(r, 0.37);
    assert_true(d >= 50 && d <= 1000);
  }
  assert_true(p.may_retry(1, 0, 100));
  assert_false(p.may_retry(5, 0, 100));     // attempts exhausted
  assert_false(p.may_retry(2, 2950, 100));  // budget exhausted
}

void test_5xx_then_success_is_retried(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push({503, {}, err_xml("ServiceUnavailable")});
  f->server.push({500, {}, err_xml("InternalError")});
  f->server.push({200, {{"ETag", "\"5d41402abc4b2a76b9719d911017c592\""}}, ""});
  auto r = f->store->put_bytes("k", "hello", {});
  assert_true(r.ok());
  assert_string_equal(r->c_str(), "5d41402abc4b2a76b9719d911017c592");
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 3);
  // Every attempt carries the whole body and a fresh signature.
  for (auto& s : seen) {
    assert_string_equal(s.body.c_str(), "hello");
    assert_non_null(strstr(s.header("authorization").c_str(), "AWS4-HMAC-SHA256 Credential=AKID/"));
  }
  assert_string_equal(seen[0].target.c_str(), "/bkt/k");
}

void test_persistent_5xx_gives_transient(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  for (int i = 0; i < 10; ++i) f->server.push({503, {}, err_xml("SlowDown")});
  auto r = get_bytes(*f->store, "k");
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Throttled));
  assert_int_equal(f->server.count(), 4);  // max_attempts
  assert_non_null(strstr(r.error().message.c_str(), "after 4 attempts"));
}

void test_4xx_not_retried_and_secret_not_leaked(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push({403, {}, err_xml("SignatureDoesNotMatch")});
  auto r = f->store->check_bucket("some/prefix/");
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::SignatureMismatch));
  assert_int_equal(f->server.count(), 1);
  // The check lists only under the mount's prefix.
  assert_non_null(strstr(f->server.seen()[0].target.c_str(), "prefix=some%2Fprefix%2F"));
  assert_null(strstr(r.error().describe().c_str(), "very-secret-value"));
  assert_string_equal(r.error().request_id.c_str(), "rid-1");
  // The secret is never on the wire either.
  for (auto& s : f->server.seen())
    for (auto& [k, v] : s.headers) assert_null(strstr(v.c_str(), "very-secret-value"));
}

void test_404_head_is_no_such_key(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push({404, {}, ""});
  auto r = f->store->head("missing");
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::NoSuchKey));
}

void test_clock_skew_resigns_with_server_time(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  std::time_t server_now = std::time(nullptr) + 3600;
  f->server.push({403, {{"Date", timefmt::http_date(server_now)}}, err_xml("RequestTimeTooSkewed")});
  f->server.push({200, {}, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"});
  auto r = f->store->list(ListRequest{"", "/", "", "", 1000});
  assert_true(r.ok());
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 2);
  auto t1 = seen[1].header("x-amz-date");
  // The retry is signed with (about) the server's clock.
  assert_true(t1.substr(0, 11) == timefmt::amz_date(server_now).substr(0, 11));
}

void test_200_with_error_body_on_complete(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push({200, {}, err_xml("InvalidPart")});
  auto r = f->store->complete_multipart("k", "up1", {PartInfo{1, 5, "abc", ""}});
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::InvalidArgument));
  auto seen = f->server.seen();
  assert_string_equal(seen[0].method.c_str(), "POST");
  assert_string_equal(seen[0].target.c_str(), "/bkt/k?uploadId=up1");
  assert_non_null(strstr(seen[0].body.c_str(), "<PartNumber>1</PartNumber>"));
}

std::string iso_utc(std::time_t t) {
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

std::string upload_xml(const std::string& key, const std::string& id, std::time_t initiated) {
  return "<Upload><Key>" + key + "</Key><UploadId>" + id + "</UploadId><Initiated>" + iso_utc(initiated) +
         "</Initiated></Upload>";
}

// A create whose answer is lost (the connection closes) is retried; the upload
// the first attempt made on the server is found and aborted, and nothing else.
void test_lost_create_answer_leaves_no_orphan(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const std::time_t now = std::time(nullptr);
  f->server.push({0, {}, "", true});  // the server made up1, the answer never came
  f->server.push({200,
                  {},
                  "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key>"
                  "<UploadId>up2</UploadId></InitiateMultipartUploadResult>"});
  f->server.push({200,
                  {},
                  "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>" +
                      upload_xml("k", "up-old", now - 86400) +  // someone's, long ago
                      upload_xml("k", "up1", now) + upload_xml("k", "up2", now) +
                      upload_xml("k/sub", "up3", now) +  // another key under the prefix
                      "</ListMultipartUploadsResult>"});
  f->server.push({204, {}, ""});
  auto r = f->store->create_multipart("k", {});
  assert_true(r.ok());
  assert_string_equal(r->c_str(), "up2");
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 4);
  assert_string_equal(seen[1].method.c_str(), "POST");
  assert_string_equal(seen[2].method.c_str(), "GET");
  assert_non_null(strstr(seen[2].target.c_str(), "prefix=k"));
  assert_non_null(strstr(seen[2].target.c_str(), "uploads"));
  assert_string_equal(seen[3].method.c_str(), "DELETE");
  assert_string_equal(seen[3].target.c_str(), "/bkt/k?uploadId=up1");
}

// A create answered at once costs exactly one request.
void test_create_answered_at_once_lists_nothing(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push(
      {200, {}, "<InitiateMultipartUploadResult><UploadId>up9</UploadId></InitiateMultipartUploadResult>"});
  auto r = f->store->create_multipart("k", {});
  assert_true(r.ok());
  assert_string_equal(r->c_str(), "up9");
  assert_int_equal(f->server.count(), 1);
}

// An ETag the answer presents as a plain MD5 (no SSE-KMS/SSE-C) that is not
// the MD5 sent: the body arrived damaged; it is sent again, and after three
// sends the put fails as Integrity.
void test_etag_mismatch_is_integrity_error(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  for (int i = 0; i < 3; ++i) f->server.push({200, {{"ETag", "\"00000000000000000000000000000000\""}}, ""});
  auto r = f->store->put_bytes("k", "hello", {});
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Integrity));
  assert_int_equal(f->server.count(), 3);
  for (auto& s : f->server.seen()) assert_string_equal(s.body.c_str(), "hello");
}

void test_unsupported_list_parts_is_remembered(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push({501, {}, err_xml("NotImplemented")});
  auto r = f->store->list_parts("k", "up", 0, 100);
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::Unsupported));
  assert_false(f->store->capabilities().list_parts);
  auto again = f->store->list_parts("k", "up", 0, 100);
  assert_false(again.ok());
  assert_int_equal(f->server.count(), 1);  // no second request
}

void test_key_too_long(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  auto r = f->store->head(std::string(1025, 'a'));
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.error().code), static_cast<int>(ErrorCode::KeyTooLong));
  assert_int_equal(f->server.count(), 0);
}

void test_metadata_headers_and_range(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->server.push({200,
                  {{"Content-Length", "11"},
                   {"ETag", "\"e\""},
                   {"Last-Modified", "Fri, 24 May 2013 00:00:00 GMT"},
                   {"x-amz-meta-mode", "33188"},
                   {"X-Amz-Meta-Mtime", "1700000000"}},
                  ""});
  auto h = f->store->head("dir/a b");
  assert_true(h.ok());
  assert_int_equal(h->size, 11);
  assert_string_equal(h->meta["mode"].c_str(), "33188");
  assert_string_equal(h->meta["mtime"].c_str(), "1700000000");
  assert_int_equal(h->last_modified, 1369353600);
  f->server.push({206, {{"Content-Range", "bytes 2-4/11"}}, "llo"});
  std::string got;
  auto g = f->store->get("dir/a b", 2, 3, [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  assert_true(g.ok());
  assert_string_equal(got.c_str(), "llo");
  auto seen = f->server.seen();
  assert_string_equal(seen[0].target.c_str(), "/bkt/dir/a%20b");
  assert_string_equal(seen[1].header("range").c_str(), "bytes=2-4");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errno_mapping),
      cmocka_unit_test(test_error_classes),
      cmocka_unit_test(test_retry_policy),
      cmocka_unit_test_setup_teardown(test_5xx_then_success_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistent_5xx_gives_transient, setup, teardown),
      cmocka_unit_test_setup_teardown(test_4xx_not_retried_and_secret_not_leaked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_404_head_is_no_such_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_clock_skew_resigns_with_server_time, setup, teardown),
      cmocka_unit_test_setup_teardown(test_200_with_error_body_on_complete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lost_create_answer_leaves_no_orphan, setup, teardown),
      cmocka_unit_test_setup_teardown(test_create_answered_at_once_lists_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_etag_mismatch_is_integrity_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsupported_list_parts_is_remembered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_too_long, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metadata_headers_and_range, setup, teardown),
  };
  return cmocka_run_group_tests_name("store", tests, nullptr, nullptr);
}
