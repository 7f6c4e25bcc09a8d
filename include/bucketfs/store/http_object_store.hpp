// http_object_store.hpp - ObjectStore over HTTP for the S3 and OSS dialects.
//
// Owns a pool of transport handles (never one on two threads at once), signs
// every attempt afresh, retries retryable failures with capped exponential
// backoff and jitter within a total time budget, and remembers the operations
// the server lacks (Capabilities): ListParts and friends, ListObjects V2, and
// how it verifies bodies. A hostile or broken server cannot take the mount
// down: every answer body is capped, every attempt has a total time limit,
// lengths and ranges are checked, and a listing that makes no progress ends
// with an error. Thread-safe.
//
// The implementation is split by concern: http_object_store.cpp (signing,
// the retry loop, capabilities), http_objects.cpp (objects and listings),
// http_multipart.cpp (multipart uploads), http_copy.cpp (copies),
// http_checksums.cpp (what a body carries and how the answer is checked).
#pragma once

#include <atomic>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include "bucketfs/creds/provider.hpp"
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/store/object_options.hpp"
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

  // Objects: encryption and storage class of everything written (see
  // object_options.hpp); the checksum S3 bodies carry (Auto: CRC-32C where the
  // server verifies flexible checksums, Content-MD5 elsewhere; Md5: never
  // try flexible checksums); the ListObjects version (0: V2, falling back to
  // V1 when the server refuses V2).
  Encryption encryption;
  std::string storage_class;  // "" = the bucket's default
  enum class Checksum { Auto, Crc32c, Crc64Nvme, Md5 };
  Checksum checksum = Checksum::Auto;
  int list_version = 0;
  // Copies of objects larger than this go part by part (UploadPartCopy) of
  // copy_part_size (at least the server's minimum part size), as S3 refuses
  // a single CopyObject over 5 GiB.
  uint64_t max_single_copy = uint64_t{5} << 30;
  uint64_t copy_part_size = uint64_t{1} << 30;

  // Transport.
  long connect_timeout_ms = 5000;
  long low_speed_limit = 1024;  // bytes/s below which ...
  long low_speed_time_s = 30;   // ... for this long aborts the attempt
  // Each attempt must end within base + body bytes / min_rate (a server that
  // trickles just above the low-speed limit cannot hold a worker forever).
  long attempt_timeout_base_ms = 120000;
  uint64_t attempt_min_rate = 32 * 1024;  // bytes/s
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
  ChecksumPlan checksum_plan() const override;
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
  using ObjectStore::upload_part;
  StoreResult<MultipartUpload> create_upload(const std::string& key, const PutOptions& opts) override;
  StoreResult<PartInfo> upload_part(const std::string& key, const MultipartUpload& upload, int part_number,
                                    const FileRange& body, const BodyChecksums& known) override;
  StoreResult<PartInfo> upload_part_copy(const std::string& key, const std::string& upload_id, int part_number,
                                         const std::string& src_key, uint64_t offset, uint64_t length) override;
  StoreResult<std::string> complete_upload(const std::string& key, const MultipartUpload& upload,
                                           const std::vector<PartInfo>& parts) override;
  StoreResult<void> abort_multipart(const std::string& key, const std::string& upload_id) override;
  StoreResult<ListPartsPage> list_parts(const std::string& key, const std::string& upload_id, int marker,
                                        int max_parts) override;
  StoreResult<ListUploadsPage> list_uploads(const std::string& prefix, const std::string& key_marker,
                                            const std::string& upload_id_marker) override;

 private:
  struct Call;  // one logical request (see http_call.hpp)
  StoreResult<http::Response> execute(Call& call);
  // One attempt's request before signing: its body, sink and time limit.
  http::Request prepare(const Call& call) const;
  // The retries a call gets once each, whatever the attempt budget.
  struct OnceRetries {
    bool skew = false;         // re-signed with the server's clock
    bool credentials = false;  // re-signed with refreshed credentials
  };
  // Whether an error answer (not 2xx) is worth another attempt; learns the
  // server's clock or refreshes credentials when that is what it asks for.
  bool retry_error_answer(const Error& err, const http::Response& r,
                          const creds::CredentialProvider::Current& current, OnceRetries* once);
  void abort_lost_creates(const std::string& key, const std::string& keep, std::time_t since);
  void sign(http::Request& req, const Call& call, std::time_t now, const sign::Credentials& credentials) const;
  std::string meta_prefix() const;
  // Headers every new object gets: content type, metadata, encryption, storage class.
  void add_object_headers(Call& c, const std::string& key, const PutOptions& opts) const;
  // Sends a body (PUT or UploadPart) with its checksums, re-sending it when
  // the answer shows it arrived damaged; fills *sent with what it carried.
  StoreResult<http::Response> send_body(Call& c, const FileRange* file, const std::string* bytes,
                                        ChecksumAlgo algo, const BodyChecksums& known, BodyChecksums* sent);
  // What the answer to a sent body says of its CRC (empty: nothing against
  // it); learns whether the server verifies flexible checksums, and keeps
  // OSS's streamed CRC-64 in *have once confirmed.
  std::string check_answer(const http::Response& r, ChecksumAlgo algo, bool flexible, BodyCheck check,
                           uint64_t streamed, BodyChecksums* have);
  StoreResult<ListPage> list_page(const ListRequest& req, bool v2);
  // PUT of a file range or of bytes, with the mount's object options or
  // (object_headers set, for a copy) those instead.
  StoreResult<std::string> put_object(const std::string& key, const FileRange* file, const std::string* bytes,
                                      const PutOptions& opts, const HeaderList* object_headers);
  StoreResult<std::string> copy_single(const std::string& src, const std::string& dst, const ObjectInfo& info,
                                       const PutOptions& opts, bool replace);
  StoreResult<std::string> copy_multipart(const std::string& src, const std::string& dst, const ObjectInfo& info,
                                          const PutOptions& opts);
  StoreResult<std::string> copy_through_client(const std::string& src, const std::string& dst,
                                               const ObjectInfo& info, const PutOptions& opts);
  void abort_quietly(const std::string& key, const std::string& upload_id);
  HeaderList kept_headers(const ObjectInfo& source) const;
  // CreateMultipartUpload with the mount's object options, or (object_headers
  // set, for a copy) with those instead.
  StoreResult<MultipartUpload> create(const std::string& key, const PutOptions& opts,
                                      const HeaderList* object_headers, ChecksumAlgo algo);
  ChecksumAlgo upload_algo() const;  // the algorithm create_upload declares now
  void learn_body_check(store::BodyCheck b);
  void set_cap(bool Capabilities::*cap, bool value);
  bool cap(bool Capabilities::*cap) const;
  // execute() for a request the server may not support: an Unsupported
  // answer switches *cap off, so that later calls do not ask again.
  StoreResult<http::Response> execute_optional(Call& call, bool Capabilities::*cap);
  // Switches *cap off after an answer that shows the server lacks the
  // request (one it took for something else); the Unsupported error `what`.
  Error lacks(bool Capabilities::*cap, long status, const char* what);

  HttpStoreConfig cfg_;
  std::unique_ptr<http::Transport> transport_;
  std::atomic<long> clock_skew_s_{0};  // server time - local time, learnt from RequestTimeTooSkewed
  mutable std::mutex caps_mu_;
  Capabilities caps_;
};

// Region from an OSS endpoint host ("oss-cn-hangzhou.aliyuncs.com" -> "cn-hangzhou"), or "".
std::string oss_region_from_endpoint(const std::string& endpoint);

}  // namespace bucketfs::store
