// test_metrics.cpp - the Prometheus text format the registry writes (HELP,
// TYPE, label escaping, cumulative histogram buckets, collectors) and the
// scrape endpoint: loopback by default, GET /metrics, 404/405, a port in use
// reported at bind time.
//
// C++ objects live in a fixture-owned State (cmocka longjmps on failure).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/metrics/server.hpp"
#include "bucketfs/util/metrics.hpp"

using namespace bucketfs;

namespace {

struct State {
  metrics::Registry registry;
  std::unique_ptr<metrics::Server> server;
};

int setup(void** state) {
  *state = new State;
  return 0;
}

int teardown(void** state) {
  auto* s = static_cast<State*>(*state);
  if (s->server) s->server->stop();
  delete s;
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

// One HTTP exchange on 127.0.0.1:port; the whole answer.
std::string http(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

int port_of(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

void text_format(void** state) {
  State* s = st(state);
  metrics::Registry& r = s->registry;
  r.counter("t_requests_total", "Requests\\by op", {{"op", "put"}, {"outcome", "ok"}}).inc(3);
  r.counter("t_requests_total", "Requests\\by op", {{"op", "get"}, {"outcome", "ok"}}).inc();
  r.counter("t_plain_total", "No labels").inc(7);
  r.gauge("t_gauge", "A gauge", {{"path", "a\"b\\c\nd"}}).set(2.5);
  r.gauge("t_big", "Integral").set(1796113971);
  auto& h = r.histogram("t_latency_seconds", "Latency", {{"op", "put"}}, {0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le)
  h.observe(5);
  h.observe(100);
  // The same name and labels give the same metric.
  r.counter("t_plain_total", "ignored the second time").inc();
  int collected = 0;
  r.add_collector(
      [&collected](metrics::Registry& m) { m.gauge("t_collected", "Set at scrape").set(++collected); });

  std::string text = r.render();
  const char* want =
      "# HELP t_big Integral\n"
      "# TYPE t_big gauge\n"
      "t_big 1796113971\n"
      "# HELP t_collected Set at scrape\n"
      "# TYPE t_collected gauge\n"
      "t_collected 1\n"
      "# HELP t_gauge A gauge\n"
      "# TYPE t_gauge gauge\n"
      "t_gauge{path=\"a\\\"b\\\\c\\nd\"} 2.5\n"
      "# HELP t_latency_seconds Latency\n"
      "# TYPE t_latency_seconds histogram\n"
      "t_latency_seconds_bucket{op=\"put\",le=\"0.1\"} 2\n"
      "t_latency_seconds_bucket{op=\"put\",le=\"1\"} 2\n"
      "t_latency_seconds_bucket{op=\"put\",le=\"10\"} 3\n"
      "t_latency_seconds_bucket{op=\"put\",le=\"+Inf\"} 4\n"
      "t_latency_seconds_sum{op=\"put\"} 105.15\n"
      "t_latency_seconds_count{op=\"put\"} 4\n"
      "# HELP t_plain_total No labels\n"
      "# TYPE t_plain_total counter\n"
      "t_plain_total 8\n"
      "# HELP t_requests_total Requests\\\\by op\n"
      "# TYPE t_requests_total counter\n"
      "t_requests_total{op=\"get\",outcome=\"ok\"} 1\n"
      "t_requests_total{op=\"put\",outcome=\"ok\"} 3\n";
  assert_string_equal(text.c_str(), want);
  // Collectors run at every render.
  r.render();
  assert_int_equal(collected, 2);
}

void server_answers(void** state) {
  State* s = st(state);
  s->registry.counter("t_total", "T").inc(42);
  auto bound = metrics::Server::bind("0");  // a port alone: loopback
  assert_true(bound.ok());
  s->server = std::move(bound.value());
  assert_true(s->server->address().rfind("127.0.0.1:", 0) == 0);
  const int port = port_of(s->server->address());
  assert_true(port > 0);
  s->server->start([s] { return s->registry.render(); });

  std::string r = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  assert_non_null(strstr(r.c_str(), "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  assert_non_null(strstr(r.c_str(), "\r\n\r\n# HELP t_total T\n# TYPE t_total counter\nt_total 42\n"));
  r = http(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");  // a query is fine
  assert_non_null(strstr(r.c_str(), "t_total 42"));
  r = http(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  assert_true(r.rfind("HTTP/1.1 200 OK", 0) == 0);
  assert_null(strstr(r.c_str(), "t_total"));
  r = http(port, "GET /other HTTP/1.1\r\n\r\n");
  assert_true(r.rfind("HTTP/1.1 404", 0) == 0);
  r = http(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  assert_true(r.rfind("HTTP/1.1 405", 0) == 0);
  assert_non_null(strstr(r.c_str(), "Allow: GET, HEAD\r\n"));
  r = http(port, "garbage\r\n\r\n");
  assert_true(r.rfind("HTTP/1.1 400", 0) == 0);
  // It keeps serving after all that.
  assert_non_null(strstr(http(port, "GET /metrics HTTP/1.1\r\n\r\n").c_str(), "t_total 42"));

  // The same port again: refused at bind time with a message naming it.
  auto again = metrics::Server::bind("127.0.0.1:" + std::to_string(port));
  assert_false(again.ok());
  assert_non_null(strstr(again.error().c_str(), "cannot listen"));
  assert_non_null(strstr(again.error().c_str(), std::to_string(port).c_str()));
}

void bad_addresses(void**) {
  for (const char* a : {"", "abc", "127.0.0.1:", "127.0.0.1:99999", "[::1", "[::1]9"}) {
    auto r = metrics::Server::bind(a);
    assert_false(r.ok());
    assert_non_null(strstr(r.error().c_str(), "metrics="));
  }
  auto v6 = metrics::Server::bind("[::1]:0");
  if (v6.ok()) assert_true(v6.value()->address().rfind("[::1]:", 0) == 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(text_format, setup, teardown),
      cmocka_unit_test_setup_teardown(server_answers, setup, teardown),
      cmocka_unit_test(bad_addresses),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
