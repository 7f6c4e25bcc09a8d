// it_env.hpp - shared helpers for the C++ integration tests: the server's env
// file (written by tests/servers/start-*.sh), an HttpObjectStore built from it,
// and an independent check of the bucket through `curl --aws-sigv4`.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/store/http_object_store.hpp"

namespace it {

inline std::map<std::string, std::string>& env() {
  static std::map<std::string, std::string> vars;
  return vars;
}

// Loads $S3_ENV_FILE (KEY=VALUE lines); false if unset or unreadable.
inline bool load_env() {
  const char* path = std::getenv("S3_ENV_FILE");
  if (path == nullptr) return false;
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    std::string v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
    env()[line.substr(0, eq)] = v;
  }
  return !env()["S3_ENDPOINT"].empty();
}

inline std::string var(const std::string& k) { return env()[k]; }
inline bool is_rgw() { return var("S3_SERVER") == "rgw"; }

inline bucketfs::store::HttpStoreConfig config(const std::string& secret_override = "") {
  bucketfs::store::HttpStoreConfig c;
  c.dialect = bucketfs::store::Dialect::S3;
  c.sig_version = is_rgw() ? 4 : 2;  // s3rver verifies V2 signatures only
  c.endpoint = var("S3_ENDPOINT");
  c.bucket = var("S3_BUCKET");
  c.region = var("S3_REGION").empty() ? "us-east-1" : var("S3_REGION");
  c.path_style = true;
  c.credentials.access_key_id = var("S3_ACCESS_KEY");
  c.credentials.secret = bucketfs::Secret(secret_override.empty() ? var("S3_SECRET_KEY") : secret_override);
  c.max_attempts = 3;
  c.backoff_base_ms = 50;
  c.backoff_cap_ms = 200;
  c.total_budget_ms = 10000;
  return c;
}

inline std::string run_id() {
  static std::string id = [] {
    std::random_device rd;
    return "it-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
  }();
  return id;
}

// Fetches KEY with curl --aws-sigv4 (an independent client) into out_path;
// returns the HTTP status (0 when curl itself failed).
inline int curl_get(const std::string& key, const std::string& out_path) {
  std::string url = var("S3_ENDPOINT") + "/" + var("S3_BUCKET") + "/" + bucketfs::sign::uri_encode(key, false);
  std::string cmd = "curl -sS -o '" + out_path + "' -w '%{http_code}' --aws-sigv4 'aws:amz:" +
                    (var("S3_REGION").empty() ? std::string("us-east-1") : var("S3_REGION")) + ":s3' --user '" +
                    var("S3_ACCESS_KEY") + ":" + var("S3_SECRET_KEY") +
                    "' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '" + url + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  char buf[16] = {0};
  size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  buf[n] = 0;
  return std::atoi(buf);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A temp file with `size` pseudo-random bytes (seeded); returns its path.
inline std::string make_random_file(uint64_t size, unsigned seed) {
  char tmpl[] = "/tmp/bucketfs-it-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) return {};
  std::mt19937_64 rng(seed);
  std::string buf(1 << 20, '\0');
  uint64_t left = size;
  while (left > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = rng();
      std::memcpy(&buf[i], &v, std::min<size_t>(8, n - i));
    }
    if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) {
      ::close(fd);
      return {};
    }
    left -= n;
  }
  ::close(fd);
  return tmpl;
}

}  // namespace it
