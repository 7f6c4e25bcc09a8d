// http_object_store.cpp - ObjectStore over HTTP: builds, signs, sends and
// retries S3/OSS requests and turns the answers into typed results.
//
// Every attempt is signed afresh (the date changes, and after a
// RequestTimeTooSkewed answer the learnt clock offset is applied). Bodies are
// streamed from files by the transport; a retried attempt rewinds them.
#include "bucketfs/store/http_object_store.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "bucketfs/http/transport.hpp"
#include "bucketfs/sign/crypto.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/time.hpp"
#include "bucketfs/xml/s3_xml.hpp"
#include "request_metrics.hpp"

namespace bucketfs::store {

namespace {

constexpr size_t kMaxKeyBytes = 1024;

std::string strip_quotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

bool is_md5_hex(const std::string& s) {
  return s.size() == 32 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

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
    default: e.code = ErrorCode::Transient; break;
  }
  e.message = te.message;
  return e;
}

bool transport_retryable(const http::TransportError& te) {
  return te.kind != http::TransportError::LocalIo && te.kind != http::TransportError::Cancelled &&
         te.kind != http::TransportError::Tls;
}

thread_local std::mt19937_64 t_rng{std::random_device{}()};

}  // namespace

// One logical request; execute() turns it into signed attempts.
struct HttpObjectStore::Call {
  const char* op = "";
  std::string method = "GET";
  std::string key;  // empty: the bucket itself
  std::vector<sign::QueryParam> query;
  http::Headers headers;  // lower-case names; signed
  std::string body;
  bool has_body = false;
  FileRange file;  // file.fd >= 0: stream this
  std::function<void(const char*, size_t)> on_body_chunk;
  std::function<void()> before_attempt;  // reset per-attempt state (digests, counters)
  std::function<bool(const char*, size_t)> sink;
  int transport_failures = 0;  // attempts that broke off: the server may have acted on them
};

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

StoreResult<http::Response> HttpObjectStore::execute(Call& call) {
  if (call.key.size() > kMaxKeyBytes)
    return Error{ErrorCode::KeyTooLong, 0, "", "key is longer than 1024 bytes", ""};
  http::RetryPolicy policy{cfg_.max_attempts, cfg_.backoff_base_ms, cfg_.backoff_cap_ms, cfg_.total_budget_ms};
  auto start = std::chrono::steady_clock::now();
  bool skew_retried = false;
  bool credentials_retried = false;
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
    http::Request req;
    req.body = call.body;
    req.has_body = call.has_body;
    req.body_fd = call.file.fd;
    req.body_offset = call.file.offset;
    req.body_length = call.file.length;
    req.on_body_chunk = call.on_body_chunk;
    req.sink = call.sink;
    sign(req, call, std::time(nullptr) + clock_skew_s_.load(), credentials);

    const auto sent_at = std::chrono::steady_clock::now();
    auto res = transport_->perform(req);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count();
    const uint64_t body_bytes = call.file.fd >= 0 ? call.file.length : 0;
    Error err;
    bool retry = false;
    if (!res) {
      ++call.transport_failures;
      err = from_transport(res.error());
      retry = transport_retryable(res.error());
    } else if (res->status >= 200 && res->status < 300) {
      // CompleteMultipartUpload (and copy) can answer 200 with an <Error> body.
      if (call.method == "POST" || !call.headers.empty()) {
        if (auto eb = xml::parse_error(res->body); eb && !eb->code.empty()) {
          err = Error{code_from_server(eb->code, 500), static_cast<int>(res->status), eb->code, eb->message,
                      eb->request_id};
          retry = is_retryable(err.code);
          goto failed;
        }
      }
      count_attempt(cfg_.metrics, {call.op, "ok", seconds, body_bytes, attempt > 1});
      return std::move(res.value());
    } else {
      const http::Response& r = res.value();
      auto eb = xml::parse_error(r.body);
      std::string server_code = eb ? eb->code : "";
      err.code = code_from_server(server_code, r.status);
      err.http_status = static_cast<int>(r.status);
      err.server_code = server_code;
      err.message = eb ? eb->message : "";
      err.request_id = eb ? eb->request_id : r.header("x-amz-request-id");
      if (err.code == ErrorCode::ClockSkew && !skew_retried) {
        // Learn the server's clock from its Date header and sign with it.
        if (auto server = timefmt::parse_http_date(r.header("date"))) {
          clock_skew_s_ = static_cast<long>(*server - std::time(nullptr));
          LOG_WARN("local clock is off by " << clock_skew_s_.load() << " s from " << cfg_.endpoint
                                            << "; signing with the server's time");
        }
        skew_retried = true;
        retry = true;
      } else if (current.credentials && !credentials_retried &&
                 (err.code == ErrorCode::CredentialsUnavailable ||
                  (current.temporary &&
                   (err.code == ErrorCode::AccessDenied || err.code == ErrorCode::InvalidAccessKey)))) {
        // An expired session token (some servers, Ceph RGW among them, say
        // only AccessDenied): fetch new credentials once and try again.
        credentials_retried = true;
        retry = cfg_.credentials_provider->refresh_rejected(current.generation);
      } else {
        retry = is_retryable(err.code);
      }
    }
  failed:
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
  Call c;
  c.op = "check_bucket";
  c.query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", prefix}};
  auto r = execute(c);
  if (!r) {
    Error e = r.error();
    if (e.code == ErrorCode::NoSuchKey) e.code = ErrorCode::NoSuchBucket;
    return e;
  }
  return Ok{};
}

StoreResult<ObjectInfo> HttpObjectStore::head(const std::string& key) {
  Call c;
  c.op = "head";
  c.method = "HEAD";
  c.key = key;
  auto r = execute(c);
  if (!r) return r.error();
  ObjectInfo info;
  info.key = key;
  info.size = std::strtoull(r->header("content-length").c_str(), nullptr, 10);
  info.etag = strip_quotes(r->header("etag"));
  info.content_type = r->header("content-type");
  if (auto t = timefmt::parse_http_date(r->header("last-modified"))) info.last_modified = *t;
  std::string prefix = meta_prefix();
  for (const auto& [k, v] : r->headers)
    if (k.rfind(prefix, 0) == 0) info.meta[k.substr(prefix.size())] = v;
  return info;
}

StoreResult<uint64_t> HttpObjectStore::get(const std::string& key, uint64_t offset, uint64_t length,
                                           const ByteSink& sink) {
  Call c;
  c.op = "get";
  c.key = key;
  if (offset > 0 || length > 0) {
    std::string range = "bytes=" + std::to_string(offset) + "-";
    if (length > 0) range += std::to_string(offset + length - 1);
    c.headers.emplace_back("range", range);
  }
  // A retried attempt starts the body again; skip what the sink already has.
  uint64_t delivered = 0, pos = 0;
  c.before_attempt = [&] { pos = 0; };
  c.sink = [&](const char* d, size_t n) {
    uint64_t end = pos + n;
    if (end > delivered) {
      size_t skip = static_cast<size_t>(delivered > pos ? delivered - pos : 0);
      if (!sink(d + skip, n - skip)) return false;
      delivered = end;
    }
    pos = end;
    return true;
  };
  auto r = execute(c);
  if (!r) {
    // 416: asked at or past the end of the object; that is an empty read.
    if (r.error().http_status == 416) return uint64_t{0};
    return r.error();
  }
  return delivered;
}

StoreResult<std::string> HttpObjectStore::put(const std::string& key, const FileRange& body,
                                              const PutOptions& opts) {
  Call c;
  c.op = "put";
  c.method = "PUT";
  c.key = key;
  c.file = body;
  c.has_body = true;
  c.headers.emplace_back("content-type",
                         opts.content_type.empty() ? "application/octet-stream" : opts.content_type);
  for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
  crypto::Md5 md5;
  c.before_attempt = [&] { md5.reset(); };
  c.on_body_chunk = [&](const char* d, size_t n) { md5.update(d, n); };
  auto r = execute(c);
  if (!r) return r.error();
  std::string etag = strip_quotes(r->header("etag"));
  std::string sent = crypto::hex(md5.finish());
  if (is_md5_hex(etag) && etag != sent)
    return Error{ErrorCode::Integrity, 0, "", "ETag " + etag + " does not match the MD5 sent " + sent, ""};
  return etag;
}

StoreResult<std::string> HttpObjectStore::put_bytes(const std::string& key, const std::string& body,
                                                    const PutOptions& opts) {
  Call c;
  c.op = "put";
  c.method = "PUT";
  c.key = key;
  c.body = body;
  c.has_body = true;
  c.headers.emplace_back("content-type",
                         opts.content_type.empty() ? "application/octet-stream" : opts.content_type);
  for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
  auto r = execute(c);
  if (!r) return r.error();
  std::string etag = strip_quotes(r->header("etag"));
  std::string sent = crypto::hex(crypto::md5(body));
  if (is_md5_hex(etag) && etag != sent)
    return Error{ErrorCode::Integrity, 0, "", "ETag " + etag + " does not match the MD5 sent " + sent, ""};
  return etag;
}

StoreResult<void> HttpObjectStore::remove(const std::string& key) {
  Call c;
  c.op = "remove";
  c.method = "DELETE";
  c.key = key;
  auto r = execute(c);
  if (!r && r.error().code != ErrorCode::NoSuchKey) return r.error();
  return Ok{};
}

StoreResult<std::string> HttpObjectStore::copy(const std::string& src, const std::string& dst,
                                               const std::optional<PutOptions>& replace) {
  bool oss = cfg_.dialect == Dialect::OSS;
  Call c;
  c.op = "copy";
  c.method = "PUT";
  c.key = dst;
  c.has_body = true;
  c.headers.emplace_back(oss ? "x-oss-copy-source" : "x-amz-copy-source",
                         "/" + cfg_.bucket + "/" + sign::uri_encode(src, false));
  if (replace) {
    c.headers.emplace_back(oss ? "x-oss-metadata-directive" : "x-amz-metadata-directive", "REPLACE");
    c.headers.emplace_back("content-type",
                           replace->content_type.empty() ? "application/octet-stream" : replace->content_type);
    for (const auto& [k, v] : replace->meta) c.headers.emplace_back(meta_prefix() + k, v);
  } else {
    c.headers.emplace_back(oss ? "x-oss-metadata-directive" : "x-amz-metadata-directive", "COPY");
  }
  auto r = execute(c);
  if (!r) return r.error();
  auto etag = xml::parse_copy_result(r->body);
  return strip_quotes(etag ? *etag : r->header("etag"));
}

StoreResult<ListPage> HttpObjectStore::list(const ListRequest& req) {
  Call c;
  c.op = "list";
  c.query.push_back({"list-type", "2"});
  if (!req.continuation_token.empty()) c.query.push_back({"continuation-token", req.continuation_token});
  if (!req.delimiter.empty()) c.query.push_back({"delimiter", req.delimiter});
  c.query.push_back({"max-keys", std::to_string(req.max_keys)});
  c.query.push_back({"prefix", req.prefix});
  if (!req.start_after.empty()) c.query.push_back({"start-after", req.start_after});
  auto r = execute(c);
  if (!r) {
    Error e = r.error();
    if (e.code == ErrorCode::NoSuchKey) e.code = ErrorCode::NoSuchBucket;
    return e;
  }
  auto parsed = xml::parse_list_objects(r->body);
  if (!parsed)
    return Error{ErrorCode::Other, static_cast<int>(r->status), "", "unreadable listing from server", ""};
  ListPage page;
  for (auto& o : parsed->contents) {
    ObjectInfo info;
    info.key = std::move(o.key);
    info.size = o.size;
    info.etag = strip_quotes(o.etag);
    if (auto t = timefmt::parse_iso8601(o.last_modified)) info.last_modified = *t;
    page.objects.push_back(std::move(info));
  }
  page.common_prefixes = std::move(parsed->common_prefixes);
  page.truncated = parsed->is_truncated;
  page.next_token = parsed->next_continuation_token;
  return page;
}

StoreResult<std::string> HttpObjectStore::create_multipart(const std::string& key, const PutOptions& opts) {
  Call c;
  c.op = "create_multipart";
  c.method = "POST";
  c.key = key;
  c.has_body = true;
  c.query = {{"uploads", "", false}};
  c.headers.emplace_back("content-type",
                         opts.content_type.empty() ? "application/octet-stream" : opts.content_type);
  for (const auto& [k, v] : opts.meta) c.headers.emplace_back(meta_prefix() + k, v);
  const std::time_t since = std::time(nullptr) + clock_skew_s_.load();  // the server's clock
  auto r = execute(c);
  if (!r) return r.error();
  auto id = xml::parse_initiate_multipart(r->body);
  if (!id || id->empty())
    return Error{ErrorCode::Other, static_cast<int>(r->status), "", "no UploadId in the server's answer", ""};
  if (c.transport_failures > 0) abort_lost_creates(key, *id, since);
  return *id;
}

// An attempt whose connection broke after the request went out may have
// created an upload whose id never reached us; the retry created another. The
// lost one would hold its parts' space until a lifecycle rule or `bucketfs
// uploads --abort-orphans` removes it, so it goes now: uploads of exactly this
// key, begun since the first attempt (a minute's leeway for the clocks), other
// than ours. Best effort: a failure leaves only that orphan.
void HttpObjectStore::abort_lost_creates(const std::string& key, const std::string& keep, std::time_t since) {
  constexpr std::time_t kLeeway = 60;
  std::string key_marker, id_marker;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = list_uploads(key, key_marker, id_marker);
    if (!page) {
      if (page.error().code != ErrorCode::Unsupported)
        LOG_WARN("cannot look for a lost multipart upload of " << key << ": " << page.error().describe());
      return;
    }
    for (const auto& u : page->uploads) {
      if (u.key != key || u.upload_id == keep || u.initiated == 0 || u.initiated < since - kLeeway) continue;
      auto a = abort_multipart(key, u.upload_id);
      if (a || a.error().code == ErrorCode::NoSuchUpload)
        LOG_INFO("aborted a multipart upload of " << key << " whose creation answer was lost");
      else
        LOG_WARN("cannot abort the lost multipart upload " << u.upload_id << " of " << key << ": "
                                                           << a.error().describe());
    }
    if (!page->truncated) return;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
}

StoreResult<PartInfo> HttpObjectStore::upload_part(const std::string& key, const std::string& upload_id,
                                                   int part_number, const FileRange& body) {
  Call c;
  c.op = "upload_part";
  c.method = "PUT";
  c.key = key;
  c.file = body;
  c.has_body = true;
  c.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  crypto::Md5 md5;
  uint64_t crc = 0;
  bool oss = cfg_.dialect == Dialect::OSS;
  c.before_attempt = [&] {
    md5.reset();
    crc = 0;
  };
  c.on_body_chunk = [&](const char* d, size_t n) {
    md5.update(d, n);
    if (oss) crc = crypto::crc64ecma(crc, d, n);
  };
  auto r = execute(c);
  if (!r) {
    if (r.error().code == ErrorCode::NoSuchKey) r.error().code = ErrorCode::NoSuchUpload;
    return r.error();
  }
  PartInfo p;
  p.number = part_number;
  p.size = body.length;
  p.etag = strip_quotes(r->header("etag"));
  p.md5 = crypto::hex(md5.finish());
  if (is_md5_hex(p.etag) && p.etag != p.md5)
    return Error{
        ErrorCode::Integrity, 0, "",
        "part " + std::to_string(part_number) + " ETag " + p.etag + " does not match the MD5 sent " + p.md5, ""};
  std::string server_crc = r->header("x-oss-hash-crc64ecma");
  if (oss && !server_crc.empty() && std::strtoull(server_crc.c_str(), nullptr, 10) != crc)
    return Error{ErrorCode::Integrity, 0, "", "part " + std::to_string(part_number) + " CRC64 mismatch", ""};
  return p;
}

StoreResult<PartInfo> HttpObjectStore::upload_part_copy(const std::string& key, const std::string& upload_id,
                                                        int part_number, const std::string& src_key,
                                                        uint64_t offset, uint64_t length) {
  {
    std::lock_guard lock(caps_mu_);
    if (!caps_.upload_part_copy) return Error{ErrorCode::Unsupported, 0, "", "server has no UploadPartCopy", ""};
  }
  bool oss = cfg_.dialect == Dialect::OSS;
  Call c;
  c.op = "upload_part_copy";
  c.method = "PUT";
  c.key = key;
  c.has_body = true;  // RGW wants an explicit Content-Length: 0
  c.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  c.headers.emplace_back(oss ? "x-oss-copy-source" : "x-amz-copy-source",
                         "/" + cfg_.bucket + "/" + sign::uri_encode(src_key, false));
  c.headers.emplace_back(oss ? "x-oss-copy-source-range" : "x-amz-copy-source-range",
                         "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
  auto r = execute(c);
  if (!r) {
    if (r.error().code == ErrorCode::Unsupported) {
      std::lock_guard lock(caps_mu_);
      caps_.upload_part_copy = false;
    }
    return r.error();
  }
  auto etag = xml::parse_copy_result(r->body);
  if (!etag) {
    // A server without UploadPartCopy may treat this as a plain PUT of an empty part.
    std::lock_guard lock(caps_mu_);
    caps_.upload_part_copy = false;
    return Error{ErrorCode::Unsupported, static_cast<int>(r->status), "", "server has no UploadPartCopy", ""};
  }
  PartInfo p;
  p.number = part_number;
  p.size = length;
  p.etag = strip_quotes(*etag);
  return p;
}

StoreResult<std::string> HttpObjectStore::complete_multipart(const std::string& key, const std::string& upload_id,
                                                             const std::vector<PartInfo>& parts) {
  std::vector<std::pair<int, std::string>> list;
  list.reserve(parts.size());
  for (const auto& p : parts) list.emplace_back(p.number, "\"" + p.etag + "\"");
  Call c;
  c.op = "complete_multipart";
  c.method = "POST";
  c.key = key;
  c.has_body = true;
  c.body = xml::build_complete_multipart(list);
  c.query = {{"uploadId", upload_id}};
  c.headers.emplace_back("content-type", "application/xml");
  auto r = execute(c);
  if (!r) {
    if (r.error().code == ErrorCode::NoSuchKey) r.error().code = ErrorCode::NoSuchUpload;
    return r.error();
  }
  auto etag = xml::parse_complete_multipart(r->body);
  std::string e = etag ? strip_quotes(*etag) : "";
  if (e.empty()) {
    // Ceph 16 answers with an empty <ETag>; the object's HEAD has the real one.
    auto h = head(key);
    if (!h) return h.error();
    e = h->etag;
  }
  return e;
}

StoreResult<void> HttpObjectStore::abort_multipart(const std::string& key, const std::string& upload_id) {
  {
    std::lock_guard lock(caps_mu_);
    if (!caps_.abort_multipart)
      return Error{ErrorCode::Unsupported, 0, "", "server has no AbortMultipartUpload", ""};
  }
  Call c;
  c.op = "abort_multipart";
  c.method = "DELETE";
  c.key = key;
  c.query = {{"uploadId", upload_id}};
  auto r = execute(c);
  if (!r) {
    if (r.error().code == ErrorCode::Unsupported) {
      std::lock_guard lock(caps_mu_);
      caps_.abort_multipart = false;
    }
    if (r.error().code == ErrorCode::NoSuchKey) r.error().code = ErrorCode::NoSuchUpload;
    return r.error();
  }
  return Ok{};
}

StoreResult<ListPartsPage> HttpObjectStore::list_parts(const std::string& key, const std::string& upload_id,
                                                       int marker, int max_parts) {
  {
    std::lock_guard lock(caps_mu_);
    if (!caps_.list_parts) return Error{ErrorCode::Unsupported, 0, "", "server has no ListParts", ""};
  }
  Call c;
  c.op = "list_parts";
  c.key = key;
  c.query = {{"max-parts", std::to_string(max_parts)}};
  if (marker > 0) c.query.push_back({"part-number-marker", std::to_string(marker)});
  c.query.push_back({"uploadId", upload_id});
  auto r = execute(c);
  if (!r) {
    if (r.error().code == ErrorCode::Unsupported) {
      std::lock_guard lock(caps_mu_);
      caps_.list_parts = false;
    }
    // Ceph 16 answers NoSuchKey for an upload that was aborted.
    if (r.error().code == ErrorCode::NoSuchKey) r.error().code = ErrorCode::NoSuchUpload;
    return r.error();
  }
  auto parsed = xml::parse_list_parts(r->body);
  if (!parsed) {
    // A server that ignores ?uploadId answers with the object itself (or junk).
    std::lock_guard lock(caps_mu_);
    caps_.list_parts = false;
    return Error{ErrorCode::Unsupported, static_cast<int>(r->status), "", "server has no ListParts", ""};
  }
  ListPartsPage page;
  for (auto& p : parsed->parts) page.parts.push_back({p.part_number, p.size, strip_quotes(p.etag), ""});
  page.truncated = parsed->is_truncated;
  page.next_marker = parsed->next_part_number_marker;
  return page;
}

StoreResult<ListUploadsPage> HttpObjectStore::list_uploads(const std::string& prefix,
                                                           const std::string& key_marker,
                                                           const std::string& upload_id_marker) {
  {
    std::lock_guard lock(caps_mu_);
    if (!caps_.list_uploads) return Error{ErrorCode::Unsupported, 0, "", "server has no ListMultipartUploads", ""};
  }
  Call c;
  c.op = "list_uploads";
  if (!key_marker.empty()) c.query.push_back({"key-marker", key_marker});
  if (!prefix.empty()) c.query.push_back({"prefix", prefix});
  if (!upload_id_marker.empty()) c.query.push_back({"upload-id-marker", upload_id_marker});
  c.query.push_back({"uploads", "", false});
  auto r = execute(c);
  if (!r) {
    if (r.error().code == ErrorCode::Unsupported) {
      std::lock_guard lock(caps_mu_);
      caps_.list_uploads = false;
    }
    return r.error();
  }
  auto parsed = xml::parse_list_uploads(r->body);
  if (!parsed) {
    std::lock_guard lock(caps_mu_);
    caps_.list_uploads = false;
    return Error{ErrorCode::Unsupported, static_cast<int>(r->status), "", "server has no ListMultipartUploads",
                 ""};
  }
  ListUploadsPage page;
  for (auto& u : parsed->uploads) {
    UploadInfo info;
    info.key = std::move(u.key);
    info.upload_id = std::move(u.upload_id);
    if (auto t = timefmt::parse_iso8601(u.initiated)) info.initiated = *t;
    page.uploads.push_back(std::move(info));
  }
  page.truncated = parsed->is_truncated;
  page.next_key_marker = parsed->next_key_marker;
  page.next_upload_id_marker = parsed->next_upload_id_marker;
  return page;
}

}  // namespace bucketfs::store
