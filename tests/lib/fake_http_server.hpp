// fake_http_server.hpp - a loopback HTTP/1.1 server for unit tests that answers
// each request with the next canned response and records what it received.
// One connection at a time; supports keep-alive and Content-Length bodies,
// closing a connection without an answer, a body streamed without being held
// (a 1 GiB answer costs no memory), and a stall before the body.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testsupport {

struct Canned {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool drop = false;  // read the request, then close without an answer (a lost response)
  // Instead of `body`: this many filler bytes, written 64 KiB at a time as
  // the client takes them (Content-Length says so); the connection ends when
  // the client stops reading.
  uint64_t stream_bytes = 0;
  int stall_ms = 0;  // wait this long after the headers before the body
};

struct Seen {
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string header(const std::string& n) const {
    for (auto& [k, v] : headers)
      if (k == n) return v;
    return {};
  }
};

class FakeHttpServer {
 public:
  FakeHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void push(Canned c) {
    std::lock_guard l(mu_);
    queue_.push_back(std::move(c));
  }
  std::vector<Seen> seen() {
    std::lock_guard l(mu_);
    return seen_;
  }
  size_t count() {
    std::lock_guard l(mu_);
    return seen_.size();
  }

 private:
  void loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      serve(c);
      ::close(c);
    }
  }
  static bool read_more(int c, std::string& buf) {
    char tmp[65536];
    ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }
  void serve(int c) {
    std::string buf;
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos)
        if (!read_more(c, buf)) return;
      Seen s;
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      size_t pos = head.find("\r\n");
      std::string line = head.substr(0, pos);
      s.method = line.substr(0, line.find(' '));
      s.target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
      size_t clen = 0;
      while (pos != std::string::npos && pos < head.size()) {
        size_t next = head.find("\r\n", pos + 2);
        std::string h = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        auto colon = h.find(':');
        if (colon != std::string::npos) {
          std::string k = h.substr(0, colon);
          for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          std::string v = h.substr(colon + 1);
          while (!v.empty() && v[0] == ' ') v.erase(0, 1);
          if (k == "content-length") clen = std::stoul(v);
          s.headers.emplace_back(k, v);
        }
        pos = next;
      }
      while (buf.size() < clen)
        if (!read_more(c, buf)) return;
      s.body = buf.substr(0, clen);
      buf.erase(0, clen);
      Canned r;
      {
        std::lock_guard l(mu_);
        seen_.push_back(s);
        if (!queue_.empty()) {
          r = queue_.front();
          queue_.pop_front();
        }
      }
      if (r.drop) return;
      std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\n";
      bool has_len = false;
      for (auto& [k, v] : r.headers) {
        out += k + ": " + v + "\r\n";
        if (k == "Content-Length" || k == "Transfer-Encoding") has_len = true;
      }
      uint64_t body_len = r.stream_bytes > 0 ? r.stream_bytes : r.body.size();
      if (!has_len && s.method != "HEAD") out += "Content-Length: " + std::to_string(body_len) + "\r\n";
      out += "\r\n";
      if (r.stall_ms == 0 && s.method != "HEAD") out += r.body;
      if (!send_all(c, out)) return;
      if (s.method == "HEAD") continue;
      if (r.stall_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(r.stall_ms));
        if (!send_all(c, r.body)) return;
      }
      if (r.stream_bytes > 0 && !stream(c, r.stream_bytes)) return;
    }
  }
  static bool send_all(int c, const std::string& data) {
    return data.empty() || ::send(c, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Filler bytes until n are written or the client goes away.
  static bool stream(int c, uint64_t n) {
    static const std::string chunk(64 * 1024, 'x');
    while (n > 0) {
      size_t k = n < chunk.size() ? static_cast<size_t>(n) : chunk.size();
      ssize_t sent = ::send(c, chunk.data(), k, MSG_NOSIGNAL);
      if (sent <= 0) return false;
      n -= static_cast<uint64_t>(sent);
    }
    return true;
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<Canned> queue_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

}  // namespace testsupport
