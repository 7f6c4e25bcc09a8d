// curl_transport.cpp - Transport over libcurl easy handles (the only file that
// includes <curl/curl.h>).
//
// Each pooled Handle owns one CURL*; curl_easy_reset() between requests keeps
// its connection cache, so consecutive requests to the same server reuse the
// TCP (and TLS) connection.
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "bucketfs/http/transport.hpp"

namespace bucketfs::http {
namespace {

std::once_flag g_curl_init;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

// Per-request state shared with the curl callbacks.
struct Exchange {
  const Request* req = nullptr;
  Response* resp = nullptr;
  CURL* easy = nullptr;
  uint64_t sent = 0;  // body bytes handed to curl so far
  bool local_io_error = false;
  int local_errno = 0;
  bool sink_cancelled = false;
  bool too_large = false;
  bool rejected = false;
  bool accepted = false;  // accept() said yes (or there is none)
  long status_seen = -1;
  const curl_socket_t* socket = nullptr;  // the handle's connection, for quick_ack
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Acknowledges what has arrived at once. On a reused connection Linux treats
// us as interactive and delays ACKs (up to 40 ms) to piggyback them on our
// next request, while a server that writes its answer in pieces under Nagle
// (RGW does: headers, then body) waits for that ACK before its last small
// piece: every answer with a body stalled 40 ms (a 4 KiB GET took 42 ms
// instead of 2 ms; a 1,000-key listing page 67 ms instead of 25 ms).
// TCP_QUICKACK is not sticky, so it is set again as each piece arrives.
// (libcurl gives no socket to callbacks mid-transfer: the Handle remembers
// the one it opened, see on_socket.)
void quick_ack(Exchange* ex) {
  if (!ex->socket || *ex->socket == CURL_SOCKET_BAD) return;
  int one = 1;
  ::setsockopt(*ex->socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);  // best effort
}

// A new connection's socket (CURLOPT_SOCKOPTFUNCTION) and its closing
// (CURLOPT_CLOSESOCKETFUNCTION): the Handle keeps the one it talks over.
int on_socket(void* user, curl_socket_t fd, curlsocktype purpose) {
  if (purpose == CURLSOCKTYPE_IPCXN) *static_cast<curl_socket_t*>(user) = fd;
  return CURL_SOCKOPT_OK;
}

int on_close_socket(void* user, curl_socket_t fd) {
  auto* mine = static_cast<curl_socket_t*>(user);
  if (*mine == fd) *mine = CURL_SOCKET_BAD;
  return ::close(fd);
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * nmemb;
  quick_ack(ex);
  std::string line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (e.g. after "100 Continue"): forget earlier headers.
    ex->resp->headers.clear();
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = lower(line.substr(0, colon));
  size_t v = colon + 1;
  while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
  ex->resp->headers.emplace_back(std::move(name), line.substr(v));
  return n;
}

size_t on_write(char* data, size_t size, size_t nmemb, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * nmemb;
  quick_ack(ex);
  if (ex->status_seen < 0) curl_easy_getinfo(ex->easy, CURLINFO_RESPONSE_CODE, &ex->status_seen);
  bool success = ex->status_seen >= 200 && ex->status_seen < 300;
  // Any short count makes curl stop with CURLE_WRITE_ERROR.
  if (success && !ex->accepted) {
    if (ex->req->accept && !ex->req->accept(ex->status_seen, ex->resp->headers)) {
      ex->rejected = true;
      return 0;
    }
    ex->accepted = true;
  }
  if (success && ex->req->sink) {
    if (!ex->req->sink(data, n)) {
      ex->sink_cancelled = true;
      return 0;
    }
    return n;
  }
  uint64_t cap = success ? ex->req->max_body : ex->req->max_error_body;
  if (ex->resp->body.size() + n > cap) {
    ex->too_large = true;
    return 0;
  }
  ex->resp->body.append(data, n);
  return n;
}

size_t on_read(char* buffer, size_t size, size_t nitems, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const Request& r = *ex->req;
  size_t want = size * nitems;
  if (r.body_fd >= 0) {
    uint64_t left = r.body_length - ex->sent;
    if (left == 0) return 0;
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, want));
    ssize_t got;
    do {
      got = ::pread(r.body_fd, buffer, n, static_cast<off_t>(r.body_offset + ex->sent));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      // A short file is as bad as an I/O error: the promised length cannot be sent.
      ex->local_io_error = true;
      ex->local_errno = got < 0 ? errno : EIO;
      return CURL_READFUNC_ABORT;
    }
    if (r.on_body_chunk) r.on_body_chunk(buffer, static_cast<size_t>(got));
    ex->sent += static_cast<uint64_t>(got);
    return static_cast<size_t>(got);
  }
  uint64_t left = r.body.size() - ex->sent;
  size_t n = static_cast<size_t>(std::min<uint64_t>(left, want));
  std::memcpy(buffer, r.body.data() + ex->sent, n);
  if (n > 0 && r.on_body_chunk) r.on_body_chunk(buffer, n);
  ex->sent += n;
  return n;
}

// Seeking back lets curl rewind the body itself (e.g. on a redirect or auth retry).
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* ex = static_cast<Exchange*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  if (ex->req->on_body_chunk) return CURL_SEEKFUNC_CANTSEEK;  // the digest would be wrong
  ex->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

TransportError::Kind classify(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT: return TransportError::Connect;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return TransportError::Resolve;
    case CURLE_OPERATION_TIMEDOUT: return TransportError::Timeout;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return TransportError::Reset;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return TransportError::Tls;
    default: return TransportError::Other;
  }
}

}  // namespace

std::string Response::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

struct Transport::Handle {
  // Declared first so it outlives easy: curl_easy_cleanup calls on_close_socket.
  curl_socket_t socket = CURL_SOCKET_BAD;  // of the connection this handle keeps
  Easy easy;
};

Transport::Transport(TransportOptions opts) : opts_(std::move(opts)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Transport::~Transport() = default;

std::unique_ptr<Transport::Handle> Transport::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!pool_.empty()) {
      auto h = std::move(pool_.back());
      pool_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->easy.reset(curl_easy_init());
  if (!h->easy) throw std::bad_alloc();
  return h;
}

void Transport::release(std::unique_ptr<Handle> h) {
  std::lock_guard lock(mu_);
  pool_.push_back(std::move(h));
}

namespace {

// What every request sets: URL, timeouts, TLS, socket and header/body callbacks.
void set_common_options(CURL* c, const TransportOptions& opts, const Request& req, char* errbuf,
                        curl_socket_t* socket, Exchange* ex) {
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opts.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, opts.low_speed_limit);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opts.low_speed_time_s);
  if (req.timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, opts.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, opts.verify_tls ? 2L : 0L);
  if (!opts.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, opts.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_USERAGENT, opts.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
  curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_socket);
  curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, socket);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, socket);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, ex);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, ex);
}

// The method, and the body read from a file range or from memory.
void set_method_and_body(CURL* c, const Request& req, Exchange* ex) {
  bool has_body = req.has_body || req.body_fd >= 0 || !req.body.empty();
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    uint64_t len = req.body_fd >= 0 ? req.body_length : req.body.size();
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, ex);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, ex);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(len));
    if (req.method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
}

// Why a transfer failed: our own callbacks' reasons first, then curl's.
TransportError failure_of(CURLcode rc, const Exchange& ex, const Request& req, const char* errbuf) {
  TransportError err;
  if (ex.local_io_error) {
    err.kind = TransportError::LocalIo;
    err.message = std::string("reading the local file failed: ") + std::strerror(ex.local_errno);
  } else if (ex.sink_cancelled) {
    err.kind = TransportError::Cancelled;
    err.message = "cancelled by the receiver";
  } else if (ex.too_large) {
    err.kind = TransportError::TooLarge;
    err.status = ex.status_seen;
    err.message =
        "the server's answer body is larger than " +
        std::to_string(ex.status_seen >= 200 && ex.status_seen < 300 ? req.max_body : req.max_error_body) +
        " bytes; refused";
  } else if (ex.rejected) {
    err.kind = TransportError::Rejected;
    err.status = ex.status_seen;
    err.message = "answer refused";
  } else {
    err.kind = classify(rc);
    err.message = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    while (!err.message.empty() && err.message.back() == '\n') err.message.pop_back();
  }
  return err;
}

}  // namespace

Result<Response, TransportError> Transport::perform(const Request& req) {
  auto handle = acquire();
  CURL* c = handle->easy.get();
  curl_easy_reset(c);

  Response resp;
  Exchange ex;
  ex.req = &req;
  ex.resp = &resp;
  ex.easy = c;
  ex.socket = &handle->socket;

  Slist headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    headers.release();
    headers.reset(next);
  };
  for (const auto& [k, v] : req.headers) add_header(v.empty() ? k + ";" : k + ": " + v);
  add_header("Expect:");  // no 100-continue round trip; S3 answers errors early anyway

  char errbuf[CURL_ERROR_SIZE] = {0};
  set_common_options(c, opts_, req, errbuf, &handle->socket, &ex);
  set_method_and_body(c, req, &ex);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);

  if (rc != CURLE_OK) {
    TransportError err = failure_of(rc, ex, req, errbuf);
    // A handle whose transfer failed may hold a broken connection; curl
    // closes it itself, so the handle is still fine to pool.
    release(std::move(handle));
    return err;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  release(std::move(handle));
  return resp;
}

}  // namespace bucketfs::http
