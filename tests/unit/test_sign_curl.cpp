// test_sign_curl.cpp - differential test of sigv4::sign against curl's own
// SigV4 implementation (`curl --aws-sigv4`, an independent client).
//
// A loopback listener captures the raw request curl sends; the same request
// (method, path, query, and exactly the headers curl lists in SignedHeaders)
// is then signed with sigv4::sign at curl's x-amz-date, and the two
// Authorization headers must be byte-identical.
//
// curl 7.88 signs host, x-amz-date and the headers given with -H; it takes the
// payload hash from a user-supplied x-amz-content-sha256 header, so every
// shape passes one. Query strings are given already in canonical order
// because curl 7.88 does not sort them.
//
// cmocka fails by longjmp, so each case runs in a helper that owns the C++
// objects and returns a bool; the test frame itself only asserts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"

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

constexpr int kTimeoutMs = 10000;

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads one HTTP request (headers and a Content-Length body) and answers 200.
std::string serve_one(int listen_fd) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, kTimeoutMs) <= 0) return {};
  Fd conn(::accept(listen_fd, nullptr, nullptr));
  if (conn.fd < 0) return {};
  std::string data;
  char buf[4096];
  for (;;) {
    size_t end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t need = 0;
      std::string head = lower(data.substr(0, end));
      size_t cl = head.find("\r\ncontent-length:");
      if (cl != std::string::npos) need = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
      if (data.size() >= end + 4 + need) break;
    }
    pollfd q{conn.fd, POLLIN, 0};
    if (::poll(&q, 1, kTimeoutMs) <= 0) break;
    ssize_t n = ::recv(conn.fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  static const char kReply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)!::send(conn.fd, kReply, sizeof kReply - 1, MSG_NOSIGNAL);
  return data;
}

// Runs curl with `args`, output discarded; returns its exit status or -1.
int run_curl(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ::execvp("curl", argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Captured {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  const std::string* get(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (lower(n) == name) return &v;
    return nullptr;
  }
};

bool parse_request(const std::string& raw, Captured* out) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  out->body = raw.substr(end + 4);
  std::string head = raw.substr(0, end);
  size_t pos = 0;
  bool first = true;
  while (pos <= head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) eol = head.size();
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (first) {
      size_t a = line.find(' '), b = line.rfind(' ');
      if (a == std::string::npos || b == a) return false;
      out->method = line.substr(0, a);
      out->target = line.substr(a + 1, b - a - 1);
      first = false;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) return false;
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    out->headers.emplace_back(line.substr(0, colon), line.substr(v));
  }
  return !first;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<QueryParam> parse_query(std::string_view q) {
  std::vector<QueryParam> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.push_back({percent_decode(item), "", false});
    } else {
      out.push_back({percent_decode(item.substr(0, eq)), percent_decode(item.substr(eq + 1)), true});
    }
  }
  return out;
}

// "...SignedHeaders=a;b;c, Signature=..." -> {"a","b","c"}
std::vector<std::string> signed_headers_of(const std::string& auth) {
  std::vector<std::string> out;
  size_t p = auth.find("SignedHeaders=");
  if (p == std::string::npos) return out;
  p += 14;
  size_t e = auth.find(',', p);
  std::string list = auth.substr(p, e == std::string::npos ? std::string::npos : e - p);
  size_t s = 0;
  while (s <= list.size()) {
    size_t semi = list.find(';', s);
    if (semi == std::string::npos) semi = list.size();
    out.push_back(list.substr(s, semi - s));
    s = semi + 1;
  }
  return out;
}

bool fail_with(const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s: %s\n", what, detail.c_str());
  return false;
}

// One request shape: `path_and_query` is appended to http://127.0.0.1:PORT,
// `extra` are curl arguments before the URL. `token` is the session token the
// request carries (as -H x-amz-security-token in `extra`), or "".
bool differential(const std::string& path_and_query, const std::vector<std::string>& extra,
                  const std::string& token) {
  Fd lfd(::socket(AF_INET, SOCK_STREAM, 0));
  if (lfd.fd < 0) return fail_with("socket", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(lfd.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd.fd, 1) != 0 ||
      ::getsockname(lfd.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return fail_with("listen", std::strerror(errno));
  }
  const std::string port = std::to_string(ntohs(addr.sin_port));

  std::string raw;
  std::thread server([&] { raw = serve_one(lfd.fd); });
  std::vector<std::string> args = {"curl",   "-s",   "--max-time", "5", "--aws-sigv4", "aws:amz:us-east-1:s3",
                                   "--user", "AK:SK"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("http://127.0.0.1:" + port + path_and_query);
  int rc = run_curl(args);
  server.join();
  if (rc != 0) return fail_with("curl exit status", std::to_string(rc));

  Captured cap;
  if (!parse_request(raw, &cap)) return fail_with("unparseable request", raw);
  const std::string* curl_auth = cap.get("authorization");
  const std::string* amz_date = cap.get("x-amz-date");
  const std::string* payload = cap.get("x-amz-content-sha256");
  if (!curl_auth || !amz_date || !payload) return fail_with("missing signing headers", raw);

  struct tm tm {};
  if (!strptime(amz_date->c_str(), "%Y%m%dT%H%M%SZ", &tm)) return fail_with("bad x-amz-date", *amz_date);
  std::time_t when = timegm(&tm);

  // Rebuild the request from what went over the wire.
  SignRequest req;
  req.method = cap.method;
  size_t qpos = cap.target.find('?');
  req.path = cap.target.substr(0, qpos);
  if (qpos != std::string::npos) req.query = parse_query(std::string_view(cap.target).substr(qpos + 1));
  std::vector<std::string> curl_signed = signed_headers_of(*curl_auth);
  for (const auto& [n, v] : cap.headers) {
    std::string low = lower(n);
    // sign() adds these three itself.
    if (low == "x-amz-date" || low == "x-amz-content-sha256" || low == "x-amz-security-token") continue;
    if (std::find(curl_signed.begin(), curl_signed.end(), low) != curl_signed.end())
      req.headers.emplace_back(n, v);
  }
  sigv4::sign(req, {"AK", Secret("SK"), token}, "us-east-1", "s3", when, *payload);

  std::string ours;
  for (const auto& [n, v] : req.headers)
    if (n == "Authorization") ours = v;
  if (ours != *curl_auth) {
    std::erase_if(req.headers, [](const auto& h) { return h.first == "Authorization"; });
    std::string creq = sigv4::canonical_request(req, *payload, nullptr);
    return fail_with("Authorization differs", "\n  curl: " + *curl_auth + "\n  ours: " + ours +
                                                  "\n  our canonical request:\n" + creq + "\n  request:\n" + raw);
  }
  // The body reached the server intact and, when signed, matches its hash.
  if (*payload != "UNSIGNED-PAYLOAD" && crypto::hex(crypto::sha256(cap.body)) != *payload) {
    return fail_with("payload hash does not match body", cap.body);
  }
  return true;
}

bool get_with_query() {
  return differential("/bucket/some%20key?list-type=2&prefix=a%2Fb",
                      {"-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"}, "");
}

bool put_with_body() {
  const std::string body = "hello world\n";
  return differential(
      "/bucket/dir/obj%2Bplus~1.txt",
      {"-X", "PUT", "--data-binary", body, "-H", "x-amz-content-sha256: " + crypto::hex(crypto::sha256(body)),
       "-H", "Content-Type: text/plain", "-H", "x-amz-meta-mode: 33188", "-H",
       "x-amz-storage-class:   STANDARD  "},
      "");
}

bool post_uploads_with_token() {
  return differential("/bucket/big.bin?uploads=",
                      {"-X", "POST", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-H",
                       "x-amz-security-token: FQoGZXIvYXdzEXAMPLE"},
                      "FQoGZXIvYXdzEXAMPLE");
}

bool put_part_upload_file() {
  // -T streams a file, as part uploads do. (Not "-H Expect:": curl 7.88 then
  // signs an "expect" header that it does not send.)
  char path[] = "/tmp/bucketfs_sign_curl_XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return fail_with("mkstemp", std::strerror(errno));
  std::string body(3000, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  bool wrote = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ::close(fd);
  bool ok = wrote && differential("/bucket/key?partNumber=3&uploadId=2~abc%2Fdef",
                                  {
                                      "-T",
                                      path,
                                      "-H",
                                      "x-amz-content-sha256: " + crypto::hex(crypto::sha256(body)),
                                  },
                                  "");
  ::unlink(path);
  return ok;
}

void test_get_with_query(void**) { assert_true(get_with_query()); }
void test_put_with_body(void**) { assert_true(put_with_body()); }
void test_post_uploads_with_token(void**) { assert_true(post_uploads_with_token()); }
void test_put_part_upload_file(void**) { assert_true(put_part_upload_file()); }

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_with_query),
      cmocka_unit_test(test_put_with_body),
      cmocka_unit_test(test_post_uploads_with_token),
      cmocka_unit_test(test_put_part_upload_file),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
