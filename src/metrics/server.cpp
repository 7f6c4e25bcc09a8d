// server.cpp - see server.hpp.
#include "bucketfs/metrics/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "bucketfs/util/log.hpp"

namespace bucketfs::metrics {

namespace {

constexpr size_t kMaxHead = 8192;
constexpr int kReadTimeoutMs = 5000;

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string response(int status, const char* reason, const std::string& type, const std::string& body,
                     bool head_only) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  r += "Content-Type: " + type + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (status == 405) r += "Allow: GET, HEAD\r\n";
  r += "Connection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

// Reads until the end of the request head (a blank line), the size limit or
// the deadline. Returns the head, or "" when none arrived.
std::string read_head(int conn) {
  std::string head;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
  char buf[1024];
  while (head.size() < kMaxHead && head.find("\r\n\r\n") == std::string::npos &&
         head.find("\n\n") == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    pollfd p{conn, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return {};
    ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  return head;
}

struct Parsed {
  std::string host;
  std::string port;
};

// "PORT", "HOST:PORT" or "[V6]:PORT".
bool split_address(const std::string& a, Parsed* out) {
  if (a.empty()) return false;
  if (a.find(':') == std::string::npos) {
    out->host = "127.0.0.1";
    out->port = a;
  } else if (a[0] == '[') {
    auto close = a.find(']');
    if (close == std::string::npos || close + 1 >= a.size() || a[close + 1] != ':') return false;
    out->host = a.substr(1, close - 1);
    out->port = a.substr(close + 2);
  } else {
    auto colon = a.rfind(':');
    out->host = a.substr(0, colon);
    out->port = a.substr(colon + 1);
    if (out->host.empty()) out->host = "127.0.0.1";
  }
  if (out->port.empty() || out->port.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoul(out->port) <= 65535;
}

std::string describe(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

}  // namespace

Result<std::unique_ptr<Server>, std::string> Server::bind(const std::string& address) {
  Parsed p;
  const std::string what = "metrics=" + address;
  if (!split_address(address, &p)) return what + ": expected PORT, HOST:PORT or [IPV6]:PORT";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(p.host.c_str(), p.port.c_str(), &hints, &res); rc != 0)
    return what + ": cannot resolve '" + p.host + "': " + ::gai_strerror(rc);
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
    if (!fd) {
      last = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 8) != 0) {
      last = std::strerror(errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    ::freeaddrinfo(res);
    std::unique_ptr<Server> s(new Server(std::move(fd), describe(reinterpret_cast<sockaddr*>(&bound))));
    int wake[2];
    if (::pipe2(wake, O_CLOEXEC) != 0) return what + ": cannot create a pipe: " + std::strerror(errno);
    s->wake_read_.reset(wake[0]);
    s->wake_write_.reset(wake[1]);
    return s;
  }
  ::freeaddrinfo(res);
  return what + ": cannot listen: " + last + " (is another process using the port?)";
}

Server::~Server() {
  stop();  // the descriptors close after the thread is joined
}

void Server::start(std::function<std::string()> render) {
  render_ = std::move(render);
  thread_ = std::thread([this] { loop(); });
}

void Server::stop() {
  if (!thread_.joinable()) return;
  char c = 'x';
  while (::write(wake_write_.get(), &c, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
}

void Server::loop() {
  for (;;) {
    pollfd p[2] = {{fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[1].revents & POLLIN) != 0) return;
    if ((p[0].revents & POLLIN) == 0) continue;
    Fd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    try {
      serve_one(conn.get());
    } catch (const std::exception& e) {
      LOG_WARN("metrics endpoint: " << e.what());
    }
  }
}

void Server::serve_one(int conn) {
  std::string head = read_head(conn);
  if (head.empty()) return;
  auto eol = head.find_first_of("\r\n");
  std::string line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) {
    write_all(conn, response(400, "Bad Request", "text/plain; charset=utf-8", "bad request\n", false));
    return;
  }
  std::string method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string path = target.substr(0, target.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    write_all(conn, response(405, "Method Not Allowed", "text/plain; charset=utf-8", "GET only\n", false));
  } else if (path == "/metrics") {
    write_all(conn, response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_(), head_only));
  } else if (path == "/") {
    write_all(conn,
              response(200, "OK", "text/plain; charset=utf-8", "bucketfs: metrics at /metrics\n", head_only));
  } else {
    write_all(conn,
              response(404, "Not Found", "text/plain; charset=utf-8", "not found; try /metrics\n", head_only));
  }
}

}  // namespace bucketfs::metrics
