// test_store_credentials.cpp - the object store asks its credential provider
// before every attempt: a retried request is signed with what is current
// (new key, new session token), an expired-token answer makes it refresh
// once and retry, a provider without valid credentials gives
// CredentialsUnavailable (EACCES) without a request; and the store counts
// requests, latency, retries and bytes into the metrics registry.
//
// C++ objects live in a fixture-owned State (cmocka longjmps on failure).
#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/creds/provider.hpp"
#include "bucketfs/store/http_object_store.hpp"
#include "lib/fake_http_server.hpp"

using namespace bucketfs;
using namespace bucketfs::store;
using testsupport::Canned;
using testsupport::FakeHttpServer;

namespace {

// A provider whose credentials the test changes; counts rejections.
class TestProvider final : public creds::CredentialProvider {
 public:
  std::string id = "AK1";
  std::string token = "TOKEN1";
  uint64_t generation = 1;
  bool usable = true;
  int rejected = 0;
  std::string next_id;  // what a refresh after a rejection installs ("" = refresh fails)
  bool rotate = false;  // new credentials at every call (a refresh between two attempts)
  int calls = 0;

  Result<Current, std::string> current() override {
    if (!usable) return std::string("the temporary credentials from test expired at X");
    ++calls;
    if (rotate) {
      id = "AK" + std::to_string(calls);
      token = "TOKEN" + std::to_string(calls);
      generation = static_cast<uint64_t>(calls);
    }
    auto c = std::make_shared<sign::Credentials>();
    c->access_key_id = id;
    c->secret = Secret("secret-" + id);
    c->session_token = token;
    return Current{c, generation, true};
  }
  bool refresh_rejected(uint64_t gen) override {
    ++rejected;
    if (gen != generation) return true;
    if (next_id.empty()) return false;
    id = next_id;
    token = "TOKEN-" + next_id;
    ++generation;
    return true;
  }
  creds::ProviderState state() const override { return {}; }
  void add_listener(Listener) override {}
};

std::string err_xml(const std::string& code) {
  return "<?xml version=\"1.0\"?><Error><Code>" + code +
         "</Code><Message>m</Message><RequestId>r</RequestId></Error>";
}

struct State {
  FakeHttpServer server;
  std::shared_ptr<TestProvider> provider = std::make_shared<TestProvider>();
  metrics::Registry registry;
  std::unique_ptr<HttpObjectStore> store;
  std::string file;
  int fd = -1;
};

int setup(void** state) {
  auto* s = new State;
  HttpStoreConfig c;
  c.endpoint = s->server.endpoint();
  c.bucket = "bkt";
  c.credentials_provider = s->provider;
  c.metrics = &s->registry;
  c.max_attempts = 4;
  c.backoff_base_ms = 1;
  c.backoff_cap_ms = 5;
  c.total_budget_ms = 5000;
  s->store = std::make_unique<HttpObjectStore>(c);
  char tmpl[] = "/tmp/bucketfs-storecred-XXXXXX";
  s->fd = ::mkstemp(tmpl);
  s->file = tmpl;
  std::string data(1000, 'x');
  if (::write(s->fd, data.data(), data.size()) != 1000) return -1;
  *state = s;
  return 0;
}

int teardown(void** state) {
  auto* s = static_cast<State*>(*state);
  ::close(s->fd);
  ::unlink(s->file.c_str());
  s->store.reset();
  delete s;
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

std::string key_of(const testsupport::Seen& seen) {
  std::string auth = seen.header("authorization");
  auto p = auth.find("Credential=");
  return p == std::string::npos ? "" : auth.substr(p + 11, auth.find('/', p) - p - 11);
}

void retry_signed_with_current_credentials(void** state) {
  State* s = st(state);
  s->provider->rotate = true;
  s->server.push(Canned{503, {}, err_xml("SlowDown"), false});
  s->server.push(Canned{500, {}, err_xml("InternalError"), false});
  s->server.push(Canned{200, {{"ETag", "\"e\""}}, "", false});
  auto r = s->store->upload_part("k", "U", 1, FileRange{s->fd, 0, 1000});
  assert_true(r.ok());
  auto seen = s->server.seen();
  assert_int_equal(seen.size(), 3);
  // Each attempt asked the provider and was signed with what it said then.
  for (int i = 0; i < 3; ++i) {
    assert_string_equal(key_of(seen[i]).c_str(), ("AK" + std::to_string(i + 1)).c_str());
    assert_string_equal(seen[i].header("x-amz-security-token").c_str(), ("TOKEN" + std::to_string(i + 1)).c_str());
  }
}

void expired_token_refreshes_once(void** state) {
  State* s = st(state);
  s->provider->next_id = "AK9";
  s->server.push(Canned{400, {}, err_xml("ExpiredToken"), false});
  s->server.push(Canned{200, {}, "", false});
  auto r = s->store->remove("k");
  assert_true(r.ok());
  auto seen = s->server.seen();
  assert_int_equal(seen.size(), 2);
  assert_string_equal(key_of(seen[0]).c_str(), "AK1");
  assert_string_equal(key_of(seen[1]).c_str(), "AK9");
  assert_string_equal(seen[1].header("x-amz-security-token").c_str(), "TOKEN-AK9");
  assert_int_equal(s->provider->rejected, 1);

  // RGW says only AccessDenied for an expired session token: same path, once.
  s->provider->next_id = "AK10";
  s->server.push(Canned{403, {}, err_xml("AccessDenied"), false});
  s->server.push(Canned{403, {}, err_xml("AccessDenied"), false});
  r = s->store->remove("k");
  assert_false(r.ok());
  assert_true(r.error().code == ErrorCode::AccessDenied);
  assert_int_equal(s->server.count(), 4);  // one refresh, one retry, then the error stands
  assert_int_equal(s->provider->rejected, 2);

  // A refresh that fails: the expired-token error is returned as such.
  s->provider->next_id = "";
  s->server.push(Canned{403, {}, err_xml("SecurityTokenExpired"), false});
  r = s->store->remove("k");
  assert_false(r.ok());
  assert_true(r.error().code == ErrorCode::CredentialsUnavailable);
  assert_int_equal(to_errno(r.error()), EACCES);
}

void no_credentials_no_request(void** state) {
  State* s = st(state);
  s->provider->usable = false;
  auto r = s->store->head("k");
  assert_false(r.ok());
  assert_true(r.error().code == ErrorCode::CredentialsUnavailable);
  assert_non_null(strstr(r.error().message.c_str(), "expired at X"));
  assert_int_equal(s->server.count(), 0);
  assert_false(is_retryable(ErrorCode::CredentialsUnavailable));
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

void metrics_count_requests(void** state) {
  State* s = st(state);
  s->server.push(Canned{503, {}, err_xml("SlowDown"), false});
  s->server.push(Canned{200, {{"ETag", "\"e\""}}, "", false});
  assert_true(s->store->upload_part("k", "U", 1, FileRange{s->fd, 0, 1000}).ok());
  s->server.push(Canned{404, {}, err_xml("NoSuchKey"), false});
  assert_false(s->store->head("missing").ok());
  std::string text = s->registry.render();
  assert_true(has_line(text, "bucketfs_requests_total{op=\"upload_part\",outcome=\"Throttled\"} 1"));
  assert_true(has_line(text, "bucketfs_requests_total{op=\"upload_part\",outcome=\"ok\"} 1"));
  assert_true(has_line(text, "bucketfs_requests_total{op=\"head\",outcome=\"NoSuchKey\"} 1"));
  assert_true(has_line(text, "bucketfs_retries_total{op=\"upload_part\",reason=\"Throttled\"} 1"));
  assert_true(has_line(text, "bucketfs_upload_bytes_total 1000"));
  assert_true(has_line(text, "bucketfs_upload_parts_total 1"));
  assert_true(has_line(text, "bucketfs_upload_bytes_resent_total 1000"));
  assert_true(has_line(text, "bucketfs_upload_parts_resent_total 1"));
  assert_true(has_line(text, "bucketfs_request_duration_seconds_count{op=\"upload_part\"} 2"));
  assert_true(has_line(text, "bucketfs_request_duration_seconds_bucket{op=\"head\",le=\"+Inf\"} 1"));
  assert_true(has_line(text, "# TYPE bucketfs_request_duration_seconds histogram"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(retry_signed_with_current_credentials, setup, teardown),
      cmocka_unit_test_setup_teardown(expired_token_refreshes_once, setup, teardown),
      cmocka_unit_test_setup_teardown(no_credentials_no_request, setup, teardown),
      cmocka_unit_test_setup_teardown(metrics_count_requests, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
