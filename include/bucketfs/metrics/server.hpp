// server.hpp - the scrape endpoint: a tiny HTTP/1.1 server for Prometheus.
//
// `GET /metrics` answers the text exposition format (what render() returns);
// `GET /` a one-line pointer to /metrics; other paths 404, other methods 405.
// One connection at a time, "Connection: close", a request head of at most
// 8 KiB read within 5 s: a scraper is the only client, and a stuck or hostile
// one cannot hold more than one socket for long.
//
// Loopback by default: "PORT" alone binds 127.0.0.1; "HOST:PORT" and
// "[V6]:PORT" bind what they name (0.0.0.0 exposes the metrics to the network,
// which is the operator's choice).
//
// Lifecycle: bind() in the parent (a port in use is reported at mount time),
// start() after the daemon has forked (threads do not survive fork), stop()
// (or the destructor) closes the socket and joins the thread.
// Thread-safety: start/stop from one thread; render runs on the server thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::metrics {

class Server {
 public:
  // Parses and binds address; an error line naming the address otherwise.
  static Result<std::unique_ptr<Server>, std::string> bind(const std::string& address);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "127.0.0.1:9100" (the port the kernel chose when 0 was asked).
  const std::string& address() const { return address_; }

  void start(std::function<std::string()> render);
  void stop();

 private:
  Server(Fd fd, std::string address) : fd_(std::move(fd)), address_(std::move(address)) {}
  void loop();
  void serve_one(int conn);

  Fd fd_;
  Fd wake_read_, wake_write_;  // a pipe that stop() writes to end loop()
  std::string address_;
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace bucketfs::metrics
