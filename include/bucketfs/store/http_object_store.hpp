// http_object_store.hpp - ObjectStore over HTTP for the S3 and OSS dialects.
//
// Owns a pool of transport handles (never one on two threads at once), signs
// every attempt afresh, retries retryable failures with capped exponential
// backoff and jitter within a total time budget, and remembers the operations
// the server lacks (Capabilities). Thread-safe.
#pragma once

#include <atomic>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include "bucketfs/creds/provider.hpp"
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/store/object_store.hpp"
#include "bucketfs/util/metrics.hpp"

namespace bucketfs::http {
class Transport;
struct Request;
struct Response;
}  // namespace bucketfs::http

namespace bucketfs::store {

struct HttpStoreConfig {
  Dialect dialect = Dialect::S3;
  int sig_version = 4;   // S3: 2 or 4; OSS: 1 or 4
  std::string endpoint;  // "http://127.0.0.1:7480" or "https://oss-cn-hangzhou.aliyuncs.com"
  std::string bucket;
  std::string region;      // S3 default "us-east-1"; OSS e.g. "cn-hangzhou" (guessed from endpoint if empty)
  bool path_style = true;  // false: virtual-hosted (bucket.host)
  sign::Credentials credentials;  // used when credentials_provider is null
  // Asked before every attempt (so a retried part or a resumed upload is
  // signed with what is current); shared with whoever refreshes it.
  std::shared_ptr<creds::CredentialProvider> credentials_provider;
  metrics::Registry* metrics = nullptr;  // requests, latency, retries, bytes; null: not counted

  // Transport.
  long connect_timeout_ms = 5000;
  long low_speed_limit = 1024;  // bytes/s below which ...
  long low_speed_time_s = 30;   // ... for this long aborts the attempt
  bool verify_tls = true;
  std::string ca_file;  // empty: system default
  std::string user_agent = "bucketfs";

  // Retries: attempts per request, backoff base/cap, and a total budget.
  int max_attempts = 6;
  long backoff_base_ms = 100;
  long backoff_cap_ms = 5000;
  long total_budget_ms = 120000;
};

class HttpObjectStore final : public ObjectStore {
 public:
  explicit HttpObjectStore(HttpStoreConfig cfg);
  ~HttpObjectStore() override;
  HttpObjectStore(const HttpObjectStore&) = delete;
  HttpObjectStore& operator=(const HttpObjectStore&) = delete;

  const HttpStoreConfig& config() const { return cfg_; }

  Dialect dialect() const override { return cfg_.dialect; }
  uint64_t min_part_size() const override;
  Capabilities capabilities() const override;
  StoreResult<void> check_bucket(const std::string& prefix) override;
  StoreResult<ObjectInfo> head(const std::string& key) override;
  StoreResult<uint64_t> get(const std::string& key, uint64_t offset, uint64_t length,
                            const ByteSink& sink) override;
  StoreResult<std::string> put(const std::string& key, const FileRange& body, const PutOptions& opts) override;
  StoreResult<std::string> put_bytes(const std::string& key, const std::string& body,
                                     const PutOptions& opts) override;
  StoreResult<void> remove(const std::string& key) override;
  StoreResult<std::string> copy(const std::string& src, const std::string& dst,
                                const std::optional<PutOptions>& replace) override;
  StoreResult<ListPage> list(const ListRequest& req) override;
  StoreResult<std::string> create_multipart(const std::string& key, const PutOptions& opts) override;
  StoreResult<PartInfo> upload_part(const std::string& key, const std::string& upload_id, int part_number,
                                    const FileRange& body) override;
  StoreResult<PartInfo> upload_part_copy(const std::string& key, const std::string& upload_id, int part_number,
                                         const std::string& src_key, uint64_t offset, uint64_t length) override;
  StoreResult<std::string> complete_multipart(const std::string& key, const std::string& upload_id,
                                              const std::vector<PartInfo>& parts) override;
  StoreResult<void> abort_multipart(const std::string& key, const std::string& upload_id) override;
  StoreResult<ListPartsPage> list_parts(const std::string& key, const std::string& upload_id, int marker,
                                        int max_parts) override;
  StoreResult<ListUploadsPage> list_uploads(const std::string& prefix, const std::string& key_marker,
                                            const std::string& upload_id_marker) override;

 private:
  struct Call;  // one logical request (see http_object_store.cpp)
  StoreResult<http::Response> execute(Call& call);
  void abort_lost_creates(const std::string& key, const std::string& keep, std::time_t since);
  void sign(http::Request& req, const Call& call, std::time_t now, const sign::Credentials& credentials) const;
  std::string meta_prefix() const;

  HttpStoreConfig cfg_;
  std::unique_ptr<http::Transport> transport_;
  std::atomic<long> clock_skew_s_{0};  // server time - local time, learnt from RequestTimeTooSkewed
  mutable std::mutex caps_mu_;
  Capabilities caps_;
};

// Region from an OSS endpoint host ("oss-cn-hangzhou.aliyuncs.com" -> "cn-hangzhou"), or "".
std::string oss_region_from_endpoint(const std::string& endpoint);

}  // namespace bucketfs::store
