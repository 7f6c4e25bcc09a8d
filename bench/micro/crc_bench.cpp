// crc_bench.cpp - throughput of the checksums a part can carry, side by side
// with OpenSSL's MD5 (what every part cost before): GB/s over a 4 MiB buffer
// (cache-warm, like a part streamed in chunks), each run for about half a
// second. Not a test: it prints numbers and always succeeds.
// Run: make bench-crc   (or build/bench/micro/crc_bench [MiB])
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "bucketfs/util/crc.hpp"
#include "bucketfs/util/digest.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Runs f over the buffer until half a second has passed; returns GB/s.
double measure(const std::vector<unsigned char>& buf,
               const std::function<uint64_t(const unsigned char*, size_t)>& f, uint64_t* sink) {
  const auto start = Clock::now();
  uint64_t bytes = 0;
  double secs = 0;
  do {
    *sink ^= f(buf.data(), buf.size());
    bytes += buf.size();
    secs = std::chrono::duration<double>(Clock::now() - start).count();
  } while (secs < 0.5);
  return static_cast<double>(bytes) / secs / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  namespace crc = bucketfs::crc;
  size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4;
  if (mib == 0) mib = 4;
  std::vector<unsigned char> buf(mib << 20);
  std::mt19937_64 rng(42);
  for (auto& c : buf) c = static_cast<unsigned char>(rng());
  uint64_t sink = 0;
  bucketfs::crypto::Md5 md5;
  const auto acc = crc::acceleration();
  struct Row {
    const char* name;
    std::function<uint64_t(const unsigned char*, size_t)> f;
  } rows[] = {
      {acc.crc32c ? "crc32c (sse4.2)" : "crc32c (tables)", [](auto p, size_t n) { return crc::crc32c(0, p, n); }},
      {acc.crc64 ? "crc64ecma (pclmul)" : "crc64ecma (tables)",
       [](auto p, size_t n) { return crc::crc64ecma(0, p, n); }},
      {acc.crc64 ? "crc64nvme (pclmul)" : "crc64nvme (tables)",
       [](auto p, size_t n) { return crc::crc64nvme(0, p, n); }},
      {"crc32c (tables)", [](auto p, size_t n) { return crc::crc32c_portable(0, p, n); }},
      {"crc64ecma (tables)", [](auto p, size_t n) { return crc::crc64ecma_portable(0, p, n); }},
      {"crc64nvme (tables)", [](auto p, size_t n) { return crc::crc64nvme_portable(0, p, n); }},
      {"md5 (openssl)",
       [&](auto p, size_t n) {
         md5.update(p, n);
         return static_cast<uint64_t>(static_cast<unsigned char>(md5.finish()[0]));
       }},
  };
  std::printf("checksum throughput over a %zu MiB buffer (GB/s, higher is better)\n", mib);
  for (const auto& r : rows) std::printf("  %-20s %7.2f\n", r.name, measure(buf, r.f, &sink));
  std::printf("(ignore: %llu)\n", static_cast<unsigned long long>(sink & 1));
  return 0;
}
