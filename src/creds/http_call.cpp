// http_call.cpp - see http_call.hpp.
#include "http_call.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "bucketfs/sign/signer.hpp"
#include "files.hpp"

namespace bucketfs::creds::detail {

HttpCaller::HttpCaller(CallLimits limits) : limits_(limits) {
  http::TransportOptions o;
  o.connect_timeout_ms = limits_.connect_timeout_ms;
  o.low_speed_limit = 1;
  o.low_speed_time_s = limits_.stall_s;
  o.user_agent = "bucketfs";
  transport_ = std::make_unique<http::Transport>(o);
}

HttpCaller::~HttpCaller() = default;

Result<http::Response, std::string> HttpCaller::call(const http::Request& req) {
  std::string last;
  for (int attempt = 1; attempt <= limits_.attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(200 * (1 << (attempt - 2))));
    auto r = transport_->perform(req);
    if (!r) {
      last = "cannot reach " + req.url + ": " + r.error().message;
      continue;
    }
    if ((r->status >= 500 || r->status == 429) && attempt < limits_.attempts) {
      last = "HTTP " + std::to_string(r->status);
      continue;
    }
    return std::move(r.value());
  }
  return last;
}

std::string error_excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 160)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > 160) out += "...";
  return out;
}

std::string form_encode(std::string_view s) { return sign::uri_encode(s, true); }

std::string form_body(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    if (!out.empty()) out += '&';
    out += form_encode(k) + "=" + form_encode(v);
  }
  return out;
}

Result<std::string, Failure> read_token_file(const std::string& path, const std::string& what) {
  std::string s, error;
  if (read_small_file(path, what, &s, nullptr, &error) != FileRead::Ok) return Failure{error};
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return Failure{what + " " + path + " is empty"};
  return s;
}

}  // namespace bucketfs::creds::detail
