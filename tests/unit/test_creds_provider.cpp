// test_creds_provider.cpp - the refresh machinery: when a refresh is due
// (ahead of expiry, with jitter), that a failed refresh keeps the old
// credentials until they expire and then says why, that a success replaces
// them (a new generation), that a rejection refreshes at most so often, that
// listeners hear every change; plus the timestamps and the JSON reader the
// sources depend on.
//
// A scripted Source and a settable clock make it deterministic: no thread, no
// sleep. C++ objects live in a fixture-owned State.
#include <atomic>
#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/creds/provider.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/util/json.hpp"

using namespace bucketfs;
using namespace bucketfs::creds;

namespace {

// Answers what the test queued, one fetch each; counts fetches.
class ScriptedSource final : public Source {
 public:
  std::deque<Result<Issued, std::string>> answers;
  int fetches = 0;
  std::string describe() const override { return "scripted source"; }
  std::string kind() const override { return "scripted"; }
  Result<Issued, std::string> fetch() override {
    ++fetches;
    if (answers.empty()) return std::string("nothing scripted");
    auto a = std::move(answers.front());
    answers.pop_front();
    return a;
  }
};

Issued issued(const std::string& id, std::time_t expires) {
  Issued i;
  i.credentials.access_key_id = id;
  i.credentials.secret = Secret("secret-" + id);
  i.credentials.session_token = "token-" + id;
  i.expiration = expires;
  return i;
}

struct State {
  std::time_t now = 1'000'000;
  ScriptedSource* source = nullptr;  // owned by provider
  std::unique_ptr<RefreshingProvider> provider;
  std::vector<ProviderState> heard;
};

int setup(void** state) {
  *state = new State;
  return 0;
}

int teardown(void** state) {
  delete static_cast<State*>(*state);
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

void make_provider(State* s, Issued first, RefreshPolicy p = {}) {
  auto src = std::make_unique<ScriptedSource>();
  s->source = src.get();
  s->provider = std::make_unique<RefreshingProvider>(std::move(src), std::move(first), p, [s] { return s->now; });
  s->provider->add_listener([s](const ProviderState& ps) { s->heard.push_back(ps); });
}

std::string current_id(State* s) {
  auto c = s->provider->current();
  return c ? c->credentials->access_key_id : "error: " + c.error();
}

void refresh_time_ahead_and_jitter(void**) {
  RefreshPolicy p;  // 300 s ahead at most, a quarter of the lifetime, 20 % jitter
  // One hour: 5 minutes ahead, and up to a minute earlier.
  assert_int_equal(refresh_time(0, 3600, p, 0.0), 3300);
  assert_int_equal(refresh_time(0, 3600, p, 0.999), 3240);
  // Sixty seconds: a quarter of the lifetime (15 s) ahead, up to 3 s earlier.
  assert_int_equal(refresh_time(100, 160, p, 0.0), 145);
  assert_int_equal(refresh_time(100, 160, p, 0.999), 142);
  // Never before the fetch, even for credentials that are about to expire.
  assert_int_equal(refresh_time(100, 100, p, 0.5), 100);
  assert_int_equal(refresh_time(100, 50, p, 0.5), 100);
}

void refresh_replaces_and_notifies(void** state) {
  State* s = st(state);
  make_provider(s, issued("A", s->now + 3600));
  auto c = s->provider->current();
  assert_true(c.ok());
  assert_string_equal(c->credentials->access_key_id.c_str(), "A");
  assert_string_equal(c->credentials->session_token.c_str(), "token-A");
  assert_true(c->temporary);
  const uint64_t gen = c->generation;
  ProviderState ps = s->provider->state();
  assert_true(ps.usable);
  assert_true(ps.next_refresh >= s->now + 3600 - 360 && ps.next_refresh <= s->now + 3600 - 300);

  s->source->answers.push_back(issued("B", s->now + 7200));
  assert_true(s->provider->refresh_now());
  c = s->provider->current();
  assert_string_equal(c->credentials->access_key_id.c_str(), "B");
  assert_true(c->generation != gen);
  assert_int_equal(s->provider->state().refreshes, 1);
  assert_int_equal(s->heard.size(), 1);
  assert_true(s->heard.back().usable);
  assert_int_equal(*s->heard.back().expiration, s->now + 7200);
}

void failed_refresh_keeps_then_expires(void** state) {
  State* s = st(state);
  make_provider(s, issued("A", s->now + 60));
  s->source->answers.push_back(std::string("STS at http://sts: HTTP 500"));
  s->source->answers.push_back(std::string("STS at http://sts: HTTP 503"));
  assert_false(s->provider->refresh_now());
  // The old credentials stay in use until they expire.
  assert_string_equal(current_id(s).c_str(), "A");
  ProviderState ps = s->provider->state();
  assert_true(ps.usable);
  assert_string_equal(ps.last_error.c_str(), "STS at http://sts: HTTP 500");
  assert_int_equal(ps.failing_since, s->now);
  assert_int_equal(ps.next_refresh, s->now + 5);  // retried after retry_min
  assert_int_equal(ps.refresh_failures, 1);
  // A second failure doubles the backoff.
  s->now += 5;
  assert_false(s->provider->refresh_now());
  assert_int_equal(s->provider->state().next_refresh, s->now + 10);
  assert_int_equal(s->provider->state().failing_since, s->now - 5);

  // Past the expiry (minus the margin): no credentials, and the reason.
  s->now += 60;
  auto c = s->provider->current();
  assert_false(c.ok());
  assert_non_null(strstr(c.error().c_str(), "the temporary credentials from scripted source expired at "));
  assert_non_null(strstr(c.error().c_str(), "refreshing them has failed since"));
  assert_non_null(strstr(c.error().c_str(), "HTTP 503"));  // the last error
  assert_false(s->provider->state().usable);
  assert_null(strstr(c.error().c_str(), "secret-A"));

  // A refresh that works brings them back; the failure is forgotten.
  s->source->answers.push_back(issued("B", s->now + 60));
  assert_true(s->provider->refresh_now());
  assert_string_equal(current_id(s).c_str(), "B");
  ps = s->provider->state();
  assert_true(ps.usable);
  assert_string_equal(ps.last_error.c_str(), "");
  assert_int_equal(ps.failing_since, 0);
  assert_true(s->heard.back().usable);
}

void already_expired_answer_is_a_failure(void** state) {
  State* s = st(state);
  make_provider(s, issued("A", s->now + 600));
  s->source->answers.push_back(issued("OLD", s->now - 10));
  assert_false(s->provider->refresh_now());
  assert_string_equal(current_id(s).c_str(), "A");
  assert_non_null(strstr(s->provider->state().last_error.c_str(), "not in the future"));
}

void rejection_refreshes_at_most_so_often(void** state) {
  State* s = st(state);
  make_provider(s, issued("A", s->now + 3600));
  uint64_t gen = s->provider->current()->generation;
  s->source->answers.push_back(issued("B", s->now + 3600));
  assert_true(s->provider->refresh_rejected(gen));
  assert_string_equal(current_id(s).c_str(), "B");
  assert_int_equal(s->source->fetches, 1);
  // A rejection of the old generation: someone already refreshed.
  assert_true(s->provider->refresh_rejected(gen));
  assert_int_equal(s->source->fetches, 1);
  // The new generation rejected at once: no second fetch within 15 s.
  uint64_t gen2 = s->provider->current()->generation;
  assert_false(s->provider->refresh_rejected(gen2));
  assert_int_equal(s->source->fetches, 1);
  s->now += 16;
  s->source->answers.push_back(issued("C", s->now + 3600));
  assert_true(s->provider->refresh_rejected(gen2));
  assert_string_equal(current_id(s).c_str(), "C");
}

void static_provider(void**) {
  sign::Credentials c;
  c.access_key_id = "AK";
  c.secret = Secret("s");
  StaticProvider p(std::move(c), "environment (AWS_ACCESS_KEY_ID)", "env");
  auto cur = p.current();
  assert_true(cur.ok());
  assert_false(cur->temporary);
  assert_false(p.refresh_rejected(cur->generation));
  assert_string_equal(p.state().source.c_str(), "environment (AWS_ACCESS_KEY_ID)");
  assert_true(p.state().usable);
}

// The background thread refreshes on its own when one is due (real clock;
// the credentials expire in 3 s, so a refresh is due within 2 s).
void background_refresh(void** state) {
  State* s = st(state);
  auto src = std::make_unique<ScriptedSource>();
  ScriptedSource* raw = src.get();
  for (int i = 0; i < 50; ++i) raw->answers.push_back(issued("N" + std::to_string(i), std::time(nullptr) + 600));
  std::mutex mu;
  std::condition_variable cv;
  int refreshed = 0;
  RefreshingProvider p(std::move(src), issued("A", std::time(nullptr) + 3));
  p.add_listener([&](const ProviderState& ps) {
    std::lock_guard l(mu);
    if (ps.refreshes > 0) ++refreshed;
    cv.notify_all();
  });
  p.start();
  std::unique_lock l(mu);
  bool ok = cv.wait_for(l, std::chrono::seconds(60), [&] { return refreshed > 0; });
  l.unlock();
  p.stop();
  (void)s;
  assert_true(ok);
  assert_string_equal(p.current()->credentials->access_key_id.c_str(), "N0");
}

void timestamps(void**) {
  assert_int_equal(*parse_timestamp("1970-01-01T00:00:00Z"), 0);
  assert_int_equal(*parse_timestamp("2026-12-01T08:32:51Z"), 1796113971);
  assert_int_equal(*parse_timestamp("2026-12-01T08:32:51.712943226Z"), 1796113971);  // RGW's nanoseconds
  assert_int_equal(*parse_timestamp("2026-12-01T16:32:51+08:00"), 1796113971);
  assert_int_equal(*parse_timestamp("2026-12-01T03:32:51.5-05:00"), 1796113971);
  assert_false(parse_timestamp("2026-12-01").has_value());
  assert_false(parse_timestamp("2026-12-01T08:32:51").has_value());  // no zone
  assert_false(parse_timestamp("2026-13-01T08:32:51Z").has_value());
  assert_false(parse_timestamp("2026-12-01T08:32:51Zjunk").has_value());
  assert_false(parse_timestamp("").has_value());
  assert_string_equal(format_timestamp(1796113971).c_str(), "2026-12-01T08:32:51Z");
}

void json_reader(void**) {
  auto v = json::parse(
      " {\"Code\":\"Success\",\"n\":1.5e2,\"t\":true,\"z\":null,\"a\":[1,\"x\"],"
      "\"o\":{\"k\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"},\"Code\":\"Last\"} ");
  assert_true(v.ok());
  assert_string_equal(v->string_at("Code").c_str(), "Last");  // the last duplicate wins
  assert_true(v->get("n")->as_number() == 150);
  assert_true(v->get("t")->as_bool());
  assert_int_equal(v->get("a")->items().size(), 2);
  assert_string_equal(v->get("o")->string_at("k").c_str(), "\xc3\xa9\xf0\x9f\x98\x80\n\"");
  assert_string_equal(v->string_at("missing").c_str(), "");
  assert_string_equal(v->string_at("n").c_str(), "");  // not a string

  const char* bad[] = {"",         "{",   "{\"a\":}", "{\"a\" 1}", "[1,]",    "{\"a\":1}x", "\"\\ud800\"",
                       "\"a\nb\"", "tru", "01x",      "{a:1}",     "\"\\q\"", "-"};
  for (const char* b : bad) {
    auto r = json::parse(b);
    assert_false(r.ok());
    assert_non_null(strstr(r.error().c_str(), "malformed JSON at byte"));
  }
  // Deep nesting is refused, not a stack overflow.
  assert_false(json::parse(std::string(10000, '[') + std::string(10000, ']')).ok());
  // The message does not quote the document.
  assert_null(strstr(json::parse("{\"SecretAccessKey\": \"wJalrXUtnFEMI").error().c_str(), "wJalr"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refresh_time_ahead_and_jitter),
      cmocka_unit_test_setup_teardown(refresh_replaces_and_notifies, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_refresh_keeps_then_expires, setup, teardown),
      cmocka_unit_test_setup_teardown(already_expired_answer_is_a_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(rejection_refreshes_at_most_so_often, setup, teardown),
      cmocka_unit_test(static_provider),
      cmocka_unit_test_setup_teardown(background_refresh, setup, teardown),
      cmocka_unit_test(timestamps),
      cmocka_unit_test(json_reader),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
