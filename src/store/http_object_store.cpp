// http_object_store.cpp - ObjectStore over HTTP: builds, signs, sends and
// retries S3/OSS requests and turns the answers into typed results; the
// capabilities learnt on the way. The operations themselves are in
// http_objects.cpp, http_multipart.cpp and http_checksums.cpp.
//
// Every attempt is signed afresh (the date changes, and after a
// RequestTimeTooSkewed answer the learnt clock offset is applied). Bodies are
// streamed from files by the transport; a retried attempt rewinds them.
#include "bucketfs/store/http_object_store.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/time.hpp"
#include "bucketfs/xml/s3_xml.hpp"
#include "http_call.hpp"
#include "request_metrics.hpp"

namespace bucketfs::store {

using detail::lower;

namespace {

constexpr size_t kMaxKeyBytes = 1024;

// scheme://host[:port] split from an endpoint (a trailing path is ignored).
struct Endpoint {
  std::string scheme = "https";
  std::string host;  // host[:port] as it goes in the Host header
};

Endpoint parse_endpoint(const std::string& ep) {
  Endpoint e;
  std::string rest = ep;
  auto p = rest.find("://");
  if (p != std::string::npos) {
    e.scheme = lower(rest.substr(0, p));
    rest = rest.substr(p + 3);
  }
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  // Default ports are not written in Host (curl would not send them either).
  if ((e.scheme == "http" && rest.size() > 3 && rest.ends_with(":80")) ||
      (e.scheme == "https" && rest.size() > 4 && rest.ends_with(":443")))
    rest = rest.substr(0, rest.rfind(':'));
  e.host = rest;
  return e;
}

ErrorCode code_from_server(const std::string& code, long status) {
  static const std::pair<const char*, ErrorCode> table[] = {
      {"NoSuchKey", ErrorCode::NoSuchKey},
      {"NoSuchBucket", ErrorCode::NoSuchBucket},
      {"NoSuchUpload", ErrorCode::NoSuchUpload},
      {"AccessDenied", ErrorCode::AccessDenied},
      {"SignatureDoesNotMatch", ErrorCode::SignatureMismatch},
      {"InvalidAccessKeyId", ErrorCode::InvalidAccessKey},
      {"RequestTimeTooSkewed", ErrorCode::ClockSkew},
      {"SlowDown", ErrorCode::Throttled},
      {"Throttling", ErrorCode::Throttled},
      {"TooManyRequests", ErrorCode::Throttled},
      {"RequestTimeout", ErrorCode::Transient},
      {"InternalError", ErrorCode::Transient},
      {"ServiceUnavailable", ErrorCode::Transient},
      {"NotImplemented", ErrorCode::Unsupported},
      {"MethodNotAllowed", ErrorCode::Unsupported},
      {"PreconditionFailed", ErrorCode::PreconditionFailed},
      {"InvalidArgument", ErrorCode::InvalidArgument},
      {"InvalidRequest", ErrorCode::InvalidArgument},
      {"EntityTooSmall", ErrorCode::InvalidArgument},
      {"InvalidPart", ErrorCode::InvalidArgument},
      {"InvalidPartOrder", ErrorCode::InvalidArgument},
      {"MalformedXML", ErrorCode::InvalidArgument},
      {"KeyTooLongError", ErrorCode::KeyTooLong},
      {"BadDigest", ErrorCode::Integrity},
      {"InvalidDigest", ErrorCode::Integrity},
      {"ExpiredToken", ErrorCode::CredentialsUnavailable},          // S3: the session token expired
      {"TokenRefreshRequired", ErrorCode::CredentialsUnavailable},  // S3
      {"InvalidToken", ErrorCode::CredentialsUnavailable},          // S3: malformed or unknown token
      {"SecurityTokenExpired", ErrorCode::CredentialsUnavailable},  // OSS
      {"InvalidSecurityToken", ErrorCode::CredentialsUnavailable},  // OSS
  };
  for (const auto& [name, c] : table)
    if (code == name) return c;
  if (status == 404) return ErrorCode::NoSuchKey;
  if (status == 403) return ErrorCode::AccessDenied;
  if (status == 405 || status == 501) return ErrorCode::Unsupported;
  if (status == 412) return ErrorCode::PreconditionFailed;
  if (status == 429) return ErrorCode::Throttled;
  if (status >= 500) return ErrorCode::Transient;
  if (status == 400) return ErrorCode::InvalidArgument;
  return ErrorCode::Other;
}

Error from_transport(const http::TransportError& te) {
  Error e;
  switch (te.kind) {
    case http::TransportError::LocalIo: e.code = ErrorCode::LocalIo; break;
    case http::TransportError::Cancelled: e.code = ErrorCode::Cancelled; break;
    case http::TransportError::Tls: e.code = ErrorCode::Other; break;
    case http::TransportError::TooLarge:
      // An error answer is judged by its status; a success whose body will
      // not end is no answer we can use.
      e.code = te.status >= 300 ? code_from_server("", te.status) : ErrorCode::Other;
      e.http_status = static_cast<int>(te.status);
      break;
    default: e.code = ErrorCode::Transient; break;
  }
  e.message = te.message;
  return e;
}

bool transport_retryable(const http::TransportError& te) {
  if (te.kind == http::TransportError::TooLarge)
    return te.status >= 300 && is_retryable(code_from_server("", te.status));
  return te.kind != http::TransportError::LocalIo && te.kind != http::TransportError::Cancelled &&
         te.kind != http::TransportError::Tls && te.kind != http::TransportError::Rejected;
}

// The <Error> body a 2xx answer can carry (CompleteMultipartUpload and copy
// answer 200 with one), if any; may_carry: the call is such a request.
std::optional<Error> error_in_success(bool may_carry, const http::Response& r) {
  if (!may_carry) return std::nullopt;
  auto eb = xml::parse_error(r.body);
  if (!eb || eb->code.empty()) return std::nullopt;
  return Error{code_from_server(eb->code, 500), static_cast<int>(r.status), eb->code, eb->message, eb->request_id};
}

// The error an answer other than 2xx stands for, from its status and <Error> body.
Error error_of(const http::Response& r) {
  auto eb = xml::parse_error(r.body);
  std::string server_code = eb ? eb->code : "";
  Error err;
  err.code = code_from_server(server_code, r.status);
  err.http_status = static_cast<int>(r.status);
  err.server_code = server_code;
  err.message = eb ? eb->message : "";
  err.request_id = eb ? eb->request_id : r.header("x-amz-request-id");
  return err;
}

thread_local std::mt19937_64 t_rng{std::random_device{}()};

}  // namespace

HttpObjectStore::HttpObjectStore(HttpStoreConfig cfg) : cfg_(std::move(cfg)) {
  if (cfg_.region.empty()) {
    cfg_.region = cfg_.dialect == Dialect::OSS ? oss_region_from_endpoint(cfg_.endpoint) : "us-east-1";
    if (cfg_.region.empty()) cfg_.region = "cn-hangzhou";
  }
  http::TransportOptions topts;
  topts.connect_timeout_ms = cfg_.connect_timeout_ms;
  topts.low_speed_limit = cfg_.low_speed_limit;
  topts.low_speed_time_s = cfg_.low_speed_time_s;
  topts.verify_tls = cfg_.verify_tls;
  topts.ca_file = cfg_.ca_file;
  topts.user_agent = cfg_.user_agent;
  transport_ = std::make_unique<http::Transport>(topts);
}

HttpObjectStore::~HttpObjectStore() = default;

uint64_t HttpObjectStore::min_part_size() const {
  return cfg_.dialect == Dialect::OSS ? 100 * 1024 : 5 * 1024 * 1024;
}

Capabilities HttpObjectStore::capabilities() const {
  std::lock_guard lock(caps_mu_);
  return caps_;
}

void HttpObjectStore::set_cap(bool Capabilities::*cap, bool value) {
  std::lock_guard lock(caps_mu_);
  caps_.*cap = value;
}

bool HttpObjectStore::cap(bool Capabilities::*cap) const {
  std::lock_guard lock(caps_mu_);
  return caps_.*cap;
}

StoreResult<http::Response> HttpObjectStore::execute_optional(Call& call, bool Capabilities::*cap) {
  auto r = execute(call);
  if (!r && r.error().code == ErrorCode::Unsupported) set_cap(cap, false);
  return r;
}

Error HttpObjectStore::lacks(bool Capabilities::*cap, long status, const char* what) {
  set_cap(cap, false);
  return Error{ErrorCode::Unsupported, static_cast<int>(status), "", what, ""};
}

std::string HttpObjectStore::meta_prefix() const {
  return cfg_.dialect == Dialect::OSS ? "x-oss-meta-" : "x-amz-meta-";
}

std::string oss_region_from_endpoint(const std::string& endpoint) {
  std::string host = parse_endpoint(endpoint).host;
  auto p = host.find("oss-");
  if (p == std::string::npos) return {};
  auto dot = host.find('.', p);
  std::string region = host.substr(p + 4, dot == std::string::npos ? std::string::npos : dot - p - 4);
  if (region.ends_with("-internal")) region.resize(region.size() - 9);
  return region;
}

void HttpObjectStore::sign(http::Request& req, const Call& call, std::time_t now,
                           const sign::Credentials& credentials) const {
  Endpoint ep = parse_endpoint(cfg_.endpoint);
  std::string host = cfg_.path_style ? ep.host : cfg_.bucket + "." + ep.host;
  std::string key_enc = sign::uri_encode(call.key, false);
  // Path-style requests on the bucket itself go to "/bucket" (no slash), as
  // s3fs sends them; RGW and s3rver canonicalise that path for V2 identically.
  std::string path =
      cfg_.path_style ? (call.key.empty() ? "/" + cfg_.bucket : "/" + cfg_.bucket + "/" + key_enc) : "/" + key_enc;

  sign::SignRequest sr;
  sr.method = call.method;
  sr.path = path;
  sr.query = call.query;
  sr.headers.emplace_back("host", host);
  for (const auto& h : call.headers) sr.headers.push_back(h);

  if (cfg_.dialect == Dialect::S3 && cfg_.sig_version == 4) {
    std::string payload = "UNSIGNED-PAYLOAD";
    if (call.file.fd < 0) payload = crypto::hex(crypto::sha256(call.body));
    sign::sigv4::sign(sr, credentials, cfg_.region, "s3", now, payload);
  } else if (cfg_.dialect == Dialect::S3) {
    sr.headers.emplace_back("date", timefmt::http_date(now));
    // The V2 resource is "/bucket" + the request URI's object part: "/bucket"
    // for a path-style request on the bucket itself, "/bucket/" on a virtual host.
    std::string resource = sign::sigv2::canonical_resource(cfg_.bucket, key_enc, call.query);
    if (cfg_.path_style && call.key.empty()) resource.erase(cfg_.bucket.size() + 1, 1);
    sign::sigv2::sign(sr, credentials, resource, now);
  } else if (cfg_.sig_version == 4) {
    std::string uri = "/" + cfg_.bucket + "/" + key_enc;
    sign::oss_v4::sign(sr, credentials, cfg_.region, uri, {}, now);
  } else {
    sr.headers.emplace_back("date", timefmt::http_date(now));
    sign::oss_v1::sign(sr, credentials, sign::oss_v1::canonical_resource(cfg_.bucket, call.key, call.query), now);
  }

  std::string qs;
  for (const auto& q : call.query) {
    qs += qs.empty() ? "?" : "&";
    qs += sign::uri_encode(q.name, true);
    if (q.has_value) qs += "=" + sign::uri_encode(q.value, true);
  }
  req.url = ep.scheme + "://" + host + path + qs;
  req.method = call.method;
  req.headers.clear();
  for (auto& h : sr.headers) req.headers.push_back(std::move(h));
}

http::Request HttpObjectStore::prepare(const Call& call) const {
  http::Request req;
  req.body = call.body;
  req.has_body = call.has_body;
  req.body_fd = call.file.fd;
  req.body_offset = call.file.offset;
  req.body_length = call.file.length;
  req.on_body_chunk = call.on_body_chunk;
  req.sink = call.sink;
  req.accept = call.accept;
  req.max_body = call.max_body;
  if (!call.no_time_limit) {
    uint64_t bytes =
        std::max<uint64_t>(call.expected_bytes, call.file.fd >= 0 ? call.file.length : call.body.size());
    req.timeout_ms = cfg_.attempt_timeout_base_ms +
                     static_cast<long>(bytes / std::max<uint64_t>(cfg_.attempt_min_rate, 1) * 1000);
  }
  return req;
}

bool HttpObjectStore::retry_error_answer(const Error& err, const http::Response& r,
                                         const creds::CredentialProvider::Current& current, OnceRetries* once) {
  if (err.code == ErrorCode::ClockSkew && !once->skew) {
    // Learn the server's clock from its Date header and sign with it.
    if (auto server = timefmt::parse_http_date(r.header("date"))) {
      clock_skew_s_ = static_cast<long>(*server - std::time(nullptr));
      LOG_WARN("local clock is off by " << clock_skew_s_.load() << " s from " << cfg_.endpoint
                                        << "; signing with the server's time");
    }
    once->skew = true;
    return true;
  }
  if (current.credentials && !once->credentials &&
      (err.code == ErrorCode::CredentialsUnavailable ||
       (current.temporary && (err.code == ErrorCode::AccessDenied || err.code == ErrorCode::InvalidAccessKey)))) {
    // An expired session token (some servers, Ceph RGW among them, say
    // only AccessDenied): fetch new credentials once and try again.
    once->credentials = true;
    return cfg_.credentials_provider->refresh_rejected(current.generation);
  }
  return is_retryable(err.code);
}

StoreResult<http::Response> HttpObjectStore::execute(Call& call) {
  if (call.key.size() > kMaxKeyBytes)
    return Error{ErrorCode::KeyTooLong, 0, "", "key is longer than 1024 bytes", ""};
  http::RetryPolicy policy{cfg_.max_attempts, cfg_.backoff_base_ms, cfg_.backoff_cap_ms, cfg_.total_budget_ms};
  auto start = std::chrono::steady_clock::now();
  OnceRetries once;
  for (int attempt = 1;; ++attempt) {
    if (call.before_attempt) call.before_attempt();
    // The provider is asked at every attempt: a retry after a long outage,
    // or a resumed upload, is signed with what is current now.
    creds::CredentialProvider::Current current;
    if (cfg_.credentials_provider) {
      auto got = cfg_.credentials_provider->current();
      if (!got) {
        count_attempt(cfg_.metrics, {call.op, name(ErrorCode::CredentialsUnavailable), 0, 0, false});
        return Error{ErrorCode::CredentialsUnavailable, 0, "", got.error(), ""};
      }
      current = std::move(got.value());
    }
    const sign::Credentials& credentials = current.credentials ? *current.credentials : cfg_.credentials;
    http::Request req = prepare(call);
    sign(req, call, std::time(nullptr) + clock_skew_s_.load(), credentials);

    const auto sent_at = std::chrono::steady_clock::now();
    auto res = transport_->perform(req);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count();
    const uint64_t body_bytes = call.file.fd >= 0 ? call.file.length : 0;
    Error err;
    bool retry = false;
    if (!res && res.error().kind == http::TransportError::Rejected) {
      err = call.refused;  // the call's own check refused the answer
    } else if (!res) {
      ++call.transport_failures;
      err = from_transport(res.error());
      retry = transport_retryable(res.error());
    } else if (res->status >= 200 && res->status < 300) {
      auto carried = error_in_success(call.method == "POST" || !call.headers.empty(), *res);
      if (!carried) {
        count_attempt(cfg_.metrics, {call.op, "ok", seconds, body_bytes, attempt > 1});
        return std::move(res.value());
      }
      err = std::move(*carried);
      retry = is_retryable(err.code);
    } else {
      err = error_of(*res);
      retry = retry_error_answer(err, *res, current, &once);
    }
    count_attempt(cfg_.metrics, {call.op, name(err.code), seconds, body_bytes, attempt > 1});
    long elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    long delay = policy.delay_ms(attempt, std::uniform_real_distribution<double>(0, 1)(t_rng));
    if (!retry || !policy.may_retry(attempt, elapsed, delay)) {
      if (retry && err.code == ErrorCode::Transient && err.message.empty()) err.message = "server kept failing";
      if (retry) err.message += " (after " + std::to_string(attempt) + " attempts)";
      LOG_DEBUG(call.op << " " << call.key << " failed: " << err.describe());
      return err;
    }
    LOG_DEBUG(call.op << " " << call.key << " attempt " << attempt << " failed (" << err.describe()
                      << "); retrying in " << delay << " ms");
    count_retry(cfg_.metrics, call.op, name(err.code));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
}

StoreResult<void> HttpObjectStore::check_bucket(const std::string& prefix) {
  ListRequest req;
  req.prefix = prefix;
  req.max_keys = 1;
  auto r = list(req);  // learns whether the server lists with V2
  if (!r) return r.error();
  return Ok{};
}

}  // namespace bucketfs::store
