// upload_cpu.cpp - CPU the client spends to upload 1 GiB (the calling
// thread only: curl runs there, the sink server in another thread), by what
// each part carries: Content-MD5 (S3 servers without flexible checksums),
// CRC-32C or CRC-64/NVME (S3 flexible checksums), CRC-64/ECMA (OSS). The
// in-process sink reads and drops every body and answers as a server that
// verifies would (echoing the checksum headers, the OSS CRC computed on its
// own thread), so only the client's cost is counted. Not a test.
// Run: build/bench/micro/upload_cpu [MiB] [part MiB]  (built by make tests-build)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bucketfs/store/http_object_store.hpp"
#include "bucketfs/util/crc.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/log.hpp"

namespace {

using namespace bucketfs;

// Answers every request 200 after reading its body; see the file comment.
class Sink {
 public:
  Sink() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        serve(c);
        ::close(c);
      }
    });
  }
  ~Sink() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  // A header's value; `lower` is `head` with the names (and all else) lower-cased.
  static std::string header(const std::string& head, const std::string& lower, const std::string& name) {
    auto p = lower.find("\r\n" + name + ":");
    if (p == std::string::npos) return {};
    p += name.size() + 3;
    while (p < head.size() && head[p] == ' ') ++p;
    return head.substr(p, head.find("\r\n", p) - p);
  }
  void serve(int c) {
    std::string buf;
    std::string body(1 << 20, '\0');
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        char tmp[8192];
        ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) return;
        buf.append(tmp, static_cast<size_t>(n));
      }
      std::string head = buf.substr(0, end), lower = head;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      buf.erase(0, end + 4);
      uint64_t left = std::strtoull(header(head, lower, "content-length").c_str(), nullptr, 10);
      uint64_t oss_crc = 0;
      const bool oss = lower.find("authorization: oss") != std::string::npos;
      size_t take = std::min<uint64_t>(left, buf.size());
      if (oss) oss_crc = crc::crc64ecma(oss_crc, buf.data(), take);
      buf.erase(0, take);
      left -= take;
      while (left > 0) {
        ssize_t n = ::recv(c, body.data(), std::min<uint64_t>(left, body.size()), 0);
        if (n <= 0) return;
        if (oss) oss_crc = crc::crc64ecma(oss_crc, body.data(), static_cast<size_t>(n));
        left -= static_cast<uint64_t>(n);
      }
      std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
      std::string md5 = header(head, lower, "content-md5"), raw;
      if (!md5.empty() && crypto::base64_decode(md5, &raw)) out += "ETag: \"" + crypto::hex(raw) + "\"\r\n";
      for (const char* h : {"x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme"})
        if (auto v = header(head, lower, h); !v.empty()) out += std::string(h) + ": " + v + "\r\n";
      if (oss) out += "x-oss-hash-crc64ecma: " + std::to_string(oss_crc) + "\r\n";
      out += "\r\n";
      if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) < 0) return;
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

double thread_cpu_s() {
  rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
  const uint64_t part = (argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 8) << 20;
  const uint64_t size = mib << 20;
  log::set_level(log::Level::Warn);
  char path[] = "/tmp/bucketfs-upload-cpu-XXXXXX";
  int fd = ::mkstemp(path);
  ::unlink(path);
  std::string chunk(1 << 20, '\0');
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>((i * 2654435761u) >> 13);
  for (uint64_t done = 0; done < size; done += chunk.size())
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) return 1;
  Sink sink;
  struct Mode {
    const char* name;
    store::Dialect dialect;
    store::HttpStoreConfig::Checksum checksum;
  } modes[] = {
      {"S3, Content-MD5 (checksum=md5)", store::Dialect::S3, store::HttpStoreConfig::Checksum::Md5},
      {"S3, CRC-32C (flexible)", store::Dialect::S3, store::HttpStoreConfig::Checksum::Crc32c},
      {"S3, CRC-64/NVME (flexible)", store::Dialect::S3, store::HttpStoreConfig::Checksum::Crc64Nvme},
      {"OSS, CRC-64/ECMA", store::Dialect::OSS, store::HttpStoreConfig::Checksum::Auto},
  };
  std::printf("client CPU to upload %llu MiB in %llu MiB parts (file in the page cache; calling thread only)\n",
              static_cast<unsigned long long>(mib), static_cast<unsigned long long>(part >> 20));
  for (const auto& m : modes) {
    store::HttpStoreConfig cfg;
    cfg.endpoint = sink.endpoint();
    cfg.bucket = "b";
    cfg.dialect = m.dialect;
    cfg.sig_version = m.dialect == store::Dialect::OSS ? 1 : 4;
    cfg.region = m.dialect == store::Dialect::OSS ? "cn-hangzhou" : "us-east-1";
    cfg.checksum = m.checksum;
    cfg.credentials.access_key_id = "AK";
    cfg.credentials.secret = Secret("SK");
    store::HttpObjectStore s(cfg);
    store::MultipartUpload up{"u", s.checksum_plan().crc};
    // One warm-up part teaches the store what the "server" verifies.
    if (!s.upload_part("k", up, 1, store::FileRange{fd, 0, part}, {})) return 1;
    up.algo = s.checksum_plan().crc;
    const double t0 = thread_cpu_s();
    const auto w0 = std::chrono::steady_clock::now();
    int n = 1;
    for (uint64_t off = 0; off < size; off += part, ++n) {
      auto r = s.upload_part("k", up, n, store::FileRange{fd, off, std::min(part, size - off)}, {});
      if (!r) {
        std::fprintf(stderr, "%s: %s\n", m.name, r.error().describe().c_str());
        return 1;
      }
    }
    const double cpu = thread_cpu_s() - t0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    std::printf("  %-32s %6.2f s CPU per GiB  (%5.2f s wall)\n", m.name, cpu / (static_cast<double>(mib) / 1024),
                wall);
  }
  ::close(fd);
  return 0;
}
