// test_store_hostile.cpp - a hostile or broken server cannot take the mount
// down: a ranged GET answered 200 (or with another range) is refused before a
// byte reaches the reader, a 1 GiB error body is cut off without being held,
// an endless or stuck listing ends with an error, ListObjects V1 is used where
// V2 is refused, bad lengths are refused, and a server that stalls is given up
// on after the attempt's time limit.
#include <sys/resource.h>

#include <cstring>
#include <string>

#include "bucketfs/store/http_object_store.hpp"
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

ErrorCode code_of(const Error& e) { return e.code; }

// --- ranged reads ---------------------------------------------------------------

// A server that ignores Range sends the object from byte 0: serving that for
// offset 5 would be the wrong bytes. Refused, not retried, nothing delivered.
void test_ranged_get_answered_200_is_refused(void** state) {
  auto* f = fx(state);
  f->server.push({200, {}, "0123456789abcdef"});
  std::string got;
  auto r = f->store->get("k", 5, 4, [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  assert_false(r.ok());
  assert_true(code_of(r.error()) == ErrorCode::Integrity);
  assert_non_null(strstr(r.error().message.c_str(), "ignores Range"));
  assert_string_equal(got.c_str(), "");
  assert_int_equal(f->server.count(), 1);
}

// A 206 for another range is refused too.
void test_wrong_content_range_is_refused(void** state) {
  auto* f = fx(state);
  f->server.push({206, {{"Content-Range", "bytes 0-3/16"}}, "0123"});
  std::string got;
  auto r = f->store->get("k", 5, 4, [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  assert_false(r.ok());
  assert_string_equal(got.c_str(), "");
}

// A 206 that carries more than the range asked for is refused, and no byte
// beyond the range reaches the reader (here sent chunked: no length to check first).
void test_overlong_range_refused(void** state) {
  auto* f = fx(state);
  f->server.push({206, {{"Content-Range", "bytes 5-8/16"}, {"Content-Length", "8"}}, "56789abc"});
  f->server.push(
      {206, {{"Content-Range", "bytes 5-8/16"}, {"Transfer-Encoding", "chunked"}}, "8\r\n56789abc\r\n0\r\n\r\n"});
  for (int i = 0; i < 2; ++i) {
    std::string got;
    auto r = f->store->get("k", 5, 4, [&](const char* d, size_t n) {
      got.append(d, n);
      return true;
    });
    assert_false(r.ok());
    assert_true(got.size() <= 4);
  }
}

// Asking for more than the object holds from offset 0 may be answered with
// the whole (smaller) object: those are the right bytes.
void test_whole_object_from_zero_is_fine(void** state) {
  auto* f = fx(state);
  f->server.push({200, {}, "small"});
  std::string got;
  auto r = f->store->get("k", 0, 100, [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  assert_true(r.ok());
  assert_string_equal(got.c_str(), "small");
}

void test_read_range_overflow(void** state) {
  auto* f = fx(state);
  auto r = f->store->get("k", UINT64_MAX - 1, 10, [](const char*, size_t) { return true; });
  assert_false(r.ok());
  assert_true(code_of(r.error()) == ErrorCode::InvalidArgument);
  assert_int_equal(f->server.count(), 0);
}

// --- bodies that do not end -----------------------------------------------------

long max_rss_kib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// A 500 with a 1 GiB body: each attempt stops reading after the error-body cap
// (the memory use does not grow by anything like a gigabyte), the status
// still decides (Transient, retried), and the store gives up as usual.
void test_one_gib_error_body(void** state) {
  auto* f = fx(state);
  const long before = max_rss_kib();
  Canned huge{500, {}, ""};
  huge.stream_bytes = uint64_t{1} << 30;
  for (int i = 0; i < 4; ++i) f->server.push(huge);
  auto r = f->store->list(ListRequest{"", "/", "", "", 1000});
  assert_false(r.ok());
  assert_true(code_of(r.error()) == ErrorCode::Transient);
  assert_non_null(strstr(r.error().message.c_str(), "larger than"));
  assert_true(max_rss_kib() - before < 64 * 1024);
}

// A listing page (a 2xx body collected in memory) over its cap is refused,
// not retried.
void test_oversized_listing_page(void** state) {
  auto* f = fx(state);
  Canned huge{200, {}, ""};
  huge.stream_bytes = uint64_t{40} << 20;
  f->server.push(huge);
  auto r = f->store->list(ListRequest{"", "/", "", "", 1000});
  assert_false(r.ok());
  assert_true(code_of(r.error()) == ErrorCode::Other);
  assert_non_null(strstr(r.error().message.c_str(), "larger than"));
  assert_int_equal(f->server.count(), 1);
}

// A server that sends its headers and then nothing more, for longer than the
// attempt's time limit: the attempt is cut off and retried, then given up.
void test_stalled_answer_times_out(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.attempt_timeout_base_ms = 200;
  cfg.max_attempts = 2;
  f->reset(cfg);
  for (int i = 0; i < 2; ++i) {
    Canned slow{200, {}, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"};
    slow.stall_ms = 1500;
    f->server.push(slow);
  }
  auto r = f->store->list(ListRequest{"", "/", "", "", 1000});
  assert_false(r.ok());
  assert_true(code_of(r.error()) == ErrorCode::Transient);
  // (The one-connection server is still stalling on the first attempt while
  // the second times out, so it cannot count them; the message does.)
  assert_non_null(strstr(r.error().message.c_str(), "timed out"));
  assert_non_null(strstr(r.error().message.c_str(), "after 2 attempts"));
}

// --- lengths ----------------------------------------------------------------------

void test_bad_lengths_refused(void** state) {
  auto* f = fx(state);
  f->server.push({200, {{"Content-Length", "99999999999999999999"}, {"ETag", "\"e\""}}, ""});
  auto r = f->store->head("k");
  assert_false(r.ok());
  f->server.push({200,
                  {},
                  "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>-5</Size>"
                  "</Contents></ListBucketResult>"});
  auto l = f->store->list(ListRequest{"", "", "", "", 1000});
  assert_false(l.ok());
}

// --- listings -----------------------------------------------------------------------

std::string page_xml(const std::string& keys, bool truncated, const std::string& tail) {
  return "<ListBucketResult><KeyCount>1</KeyCount><IsTruncated>" + std::string(truncated ? "true" : "false") +
         "</IsTruncated>" + keys + tail + "</ListBucketResult>";
}

// The same continuation token forever: the second page already makes no
// progress, and the listing ends with an error instead of looping.
void test_endless_listing_ends(void** state) {
  auto* f = fx(state);
  const std::string page = page_xml("<Contents><Key>a</Key><Size>1</Size></Contents>", true,
                                    "<NextContinuationToken>t1</NextContinuationToken>");
  for (int i = 0; i < 20; ++i) f->server.push({200, {}, page});
  auto r = list_all(*f->store, ListRequest{"", "", "", "", 1000});
  assert_false(r.ok());
  assert_non_null(strstr(r.error().message.c_str(), "no progress"));
  assert_int_equal(f->server.count(), 2);
}

// The same check in a single page, for callers that page themselves (the
// directory listing): a page that hands back the token it was asked with.
void test_page_repeating_its_token(void** state) {
  auto* f = fx(state);
  f->server.push({200,
                  {},
                  page_xml("<Contents><Key>a</Key><Size>1</Size></Contents>", true,
                           "<NextContinuationToken>t1</NextContinuationToken>")});
  auto r = f->store->list(ListRequest{"", "/", "t1", "", 1000});
  assert_false(r.ok());
  assert_non_null(strstr(r.error().message.c_str(), "no progress"));
}

// Truncated, with no keys and no token: nothing to continue from.
void test_empty_truncated_page_ends(void** state) {
  auto* f = fx(state);
  f->server.push({200, {}, page_xml("", true, "")});
  auto r = f->store->list(ListRequest{"", "/", "", "", 1000});
  assert_false(r.ok());
  assert_int_equal(f->server.count(), 1);
}

std::string v1_page(const std::string& keys, bool truncated, const std::string& next_marker) {
  return "<ListBucketResult><Marker></Marker>" +
         (next_marker.empty() ? std::string() : "<NextMarker>" + next_marker + "</NextMarker>") + "<IsTruncated>" +
         (truncated ? "true" : "false") + "</IsTruncated>" + keys + "</ListBucketResult>";
}

// V2 refused (400): the same page is asked for with V1, and V1 is used from
// then on; V1 pages continue with marker= (NextMarker, or the last key).
void test_v2_refused_falls_back_to_v1(void** state) {
  auto* f = fx(state);
  f->server.push({400, {}, err_xml("InvalidArgument")});
  f->server.push({200, {}, v1_page("<Contents><Key>a</Key><Size>1</Size></Contents>", true, "")});
  f->server.push({200, {}, v1_page("<Contents><Key>b</Key><Size>1</Size></Contents>", false, "")});
  auto r = list_all(*f->store, ListRequest{"p/", "", "", "", 1});
  assert_true(r.ok());
  assert_int_equal(r->objects.size(), 2);
  assert_false(f->store->capabilities().list_v2);
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 3);
  assert_non_null(strstr(seen[0].target.c_str(), "list-type=2"));
  assert_null(strstr(seen[1].target.c_str(), "list-type"));
  assert_null(strstr(seen[1].target.c_str(), "marker="));
  assert_non_null(strstr(seen[2].target.c_str(), "marker=a"));
  assert_null(strstr(seen[2].target.c_str(), "list-type"));
}

// A server that ignores list-type=2 answers V1: learnt from the answer.
void test_v1_answer_to_v2_is_learnt(void** state) {
  auto* f = fx(state);
  f->server.push({200, {}, v1_page("<Contents><Key>a</Key><Size>1</Size></Contents>", true, "a")});
  f->server.push({200, {}, v1_page("<Contents><Key>b</Key><Size>1</Size></Contents>", false, "")});
  auto r = list_all(*f->store, ListRequest{"", "", "", "", 1});
  assert_true(r.ok());
  assert_int_equal(r->objects.size(), 2);
  assert_false(f->store->capabilities().list_v2);
  assert_non_null(strstr(f->server.seen()[1].target.c_str(), "marker=a"));
}

// list_version=1 never sends V2; a V1 page whose NextMarker does not move on
// ends the listing with an error.
void test_list_version_1(void** state) {
  auto* f = fx(state);
  auto cfg = testsupport::cfg_for(f->server);
  cfg.list_version = 1;
  f->reset(cfg);
  f->server.push({200, {}, v1_page("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>", true, "d/")});
  f->server.push({200, {}, v1_page("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>", true, "d/")});
  auto r = list_all(*f->store, ListRequest{"", "/", "", "", 1});
  assert_false(r.ok());
  auto seen = f->server.seen();
  assert_int_equal(seen.size(), 2);
  for (auto& s : seen) assert_null(strstr(s.target.c_str(), "list-type"));
  assert_non_null(strstr(seen[1].target.c_str(), "marker=d%2F"));
}

// The bucket check learns the listing version too (it is the first request).
void test_check_bucket_learns_v1(void** state) {
  auto* f = fx(state);
  f->server.push({501, {}, err_xml("NotImplemented")});
  f->server.push({200, {}, v1_page("", false, "")});
  assert_true(f->store->check_bucket("pre/").ok());
  assert_false(f->store->capabilities().list_v2);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ranged_get_answered_200_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_content_range_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overlong_range_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_whole_object_from_zero_is_fine, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_range_overflow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_gib_error_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversized_listing_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stalled_answer_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_lengths_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endless_listing_ends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_page_repeating_its_token, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_truncated_page_ends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_refused_falls_back_to_v1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_answer_to_v2_is_learnt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_version_1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_bucket_learns_v1, setup, teardown),
  };
  return cmocka_run_group_tests_name("store hostile", tests, nullptr, nullptr);
}
