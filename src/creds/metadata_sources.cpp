// metadata_sources.cpp - instance metadata services: EC2 IMDSv2 and the
// Alibaba ECS RAM role (security hardening mode). Both take a session token
// first (PUT /latest/api/token with a TTL header), then list the role and
// fetch its credentials with the token in a header; they differ in header
// names, paths and JSON field names only.
//
// The token is kept until shortly before its TTL ends and taken again when
// the service answers 401. Without a token (the PUT failed) the source stops
// there, unless allow_v1 asks for the legacy tokenless requests.
#include <algorithm>
#include <chrono>

#include "bucketfs/creds/sources.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "http_call.hpp"
#include "json_credentials.hpp"

namespace bucketfs::creds {

namespace {

struct Flavor {
  const char* name;          // for messages
  const char* kind;          // Source::kind()
  const char* ttl_header;    // on the token PUT
  const char* token_header;  // on every GET
  const char* creds_path;    // ends with '/'
  const char* secret_field;
  const char* token_field;
  const char* disable_hint;  // how to skip this source
  const char* v1_option;     // how to allow tokenless access
};

constexpr Flavor kEc2{"EC2 instance metadata",
                      "imds",
                      "X-aws-ec2-metadata-token-ttl-seconds",
                      "X-aws-ec2-metadata-token",
                      "/latest/meta-data/iam/security-credentials/",
                      "SecretAccessKey",
                      "Token",
                      "set AWS_EC2_METADATA_DISABLED=true to skip it",
                      "-o imdsv1"};

constexpr Flavor kEcs{"ECS RAM role metadata",
                      "ecs_ram_role",
                      "X-aliyun-ecs-metadata-token-ttl-seconds",
                      "X-aliyun-ecs-metadata-token",
                      "/latest/meta-data/ram/security-credentials/",
                      "AccessKeySecret",
                      "SecurityToken",
                      "set ALIBABA_CLOUD_ECS_METADATA_DISABLED=true to skip it",
                      "-o imdsv1"};

class MetadataSource final : public Source {
 public:
  MetadataSource(const Flavor& f, MetadataParams p)
      : f_(f), p_(std::move(p)), caller_(detail::CallLimits{1000, 5, 2}) {
    while (!p_.endpoint.empty() && p_.endpoint.back() == '/') p_.endpoint.pop_back();
  }
  std::string describe() const override {
    return std::string(f_.name) + " at " + p_.endpoint +
           (p_.role_name.empty() ? "" : " (role " + p_.role_name + ")");
  }
  std::string kind() const override { return f_.kind; }

  Result<Issued, std::string> fetch() override {
    auto token = session_token(false);
    if (!token) return describe() + ": " + token.error().message;
    std::string role = p_.role_name;
    if (role.empty()) {
      auto listed = get(f_.creds_path, &*token);
      if (!listed) return describe() + ": " + listed.error().message;
      role = listed->substr(0, listed->find('\n'));
      while (!role.empty() && (role.back() == '\r' || role.back() == ' ')) role.pop_back();
      if (role.empty()) return describe() + ": the service lists no role; attach one to the instance";
    }
    auto body = get(std::string(f_.creds_path) + role, &*token);
    if (!body) return describe() + ": credentials of role " + role + ": " + body.error().message;
    auto issued = parse(*body);
    std::fill(body->begin(), body->end(), '\0');
    if (!issued) return describe() + ": credentials of role " + role + ": " + issued.error();
    return issued;
  }

 private:
  // A session token ("" in v1 mode); taken again when `renew` or near its end.
  Result<std::string, detail::Failure> session_token(bool renew) {
    auto now = std::chrono::steady_clock::now();
    if (!renew && !token_.empty() && now < token_until_) return token_;
    http::Request req;
    req.method = "PUT";
    req.url = p_.endpoint + "/latest/api/token";
    req.headers = {{f_.ttl_header, std::to_string(p_.token_ttl_s)}};
    req.has_body = true;
    auto r = caller_.call(req);
    if (!r) return detail::Failure{r.error() + " (is this an instance of that cloud? " + f_.disable_hint + ")"};
    if (r->status == 200 && !r->body.empty()) {
      token_ = r->body;
      // Renew a minute early (or halfway through a short TTL).
      auto ttl = std::chrono::seconds(p_.token_ttl_s);
      token_until_ = now + (ttl > std::chrono::seconds(120) ? ttl - std::chrono::seconds(60) : ttl / 2);
      return token_;
    }
    if (p_.allow_v1) return std::string();  // legacy tokenless access, as asked
    return detail::Failure{"the session token request (PUT /latest/api/token) answered HTTP " +
                           std::to_string(r->status) +
                           (r->body.empty() ? "" : " (" + detail::error_excerpt(r->body) + ")") +
                           "; tokenless (IMDSv1) access is used only with " + f_.v1_option};
  }

  // GET path with the token; one renewal of the token on 401.
  Result<std::string, detail::Failure> get(const std::string& path, std::string* token) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      http::Request req;
      req.url = p_.endpoint + path;
      if (!token->empty()) req.headers = {{f_.token_header, *token}};
      auto r = caller_.call(req);
      if (!r) return detail::Failure{r.error()};
      if (r->status == 200) return std::move(r->body);
      if (r->status == 401 && attempt == 0 && !token->empty()) {
        auto fresh = session_token(true);
        if (!fresh) return fresh.error();
        *token = *fresh;
        continue;
      }
      std::string what =
          "GET " + path.substr(0, path.rfind('/') + 1) + "... answered HTTP " + std::to_string(r->status);
      if (r->status == 404) what += " (no role is attached to the instance, or the role name is wrong)";
      if (r->status == 401) what += " (the session token was refused)";
      return detail::Failure{what};
    }
    return detail::Failure{"the session token was refused twice"};
  }

  Result<Issued, std::string> parse(const std::string& body) const {
    auto answer = detail::parse_json_credentials(body, f_.secret_field, f_.token_field);
    if (!answer) return answer.error();
    if (std::string no = answer->refusal(); !no.empty()) return "the service answered " + no;
    Issued issued;
    issued.credentials = std::move(answer->credentials);
    if (issued.credentials.access_key_id.empty() || issued.credentials.secret.empty() ||
        issued.credentials.session_token.empty())
      return std::string("the answer lacks AccessKeyId, ") + f_.secret_field + " or " + f_.token_field;
    auto exp = parse_timestamp(answer->expiration);
    if (!exp) return std::string("the answer has no valid Expiration");
    issued.expiration = *exp;
    return issued;
  }

  const Flavor& f_;
  MetadataParams p_;
  detail::HttpCaller caller_;
  std::string token_;
  std::chrono::steady_clock::time_point token_until_{};
};

}  // namespace

std::unique_ptr<Source> imds_source(MetadataParams p) {
  if (p.endpoint.empty()) p.endpoint = "http://169.254.169.254";
  return std::make_unique<MetadataSource>(kEc2, std::move(p));
}

std::unique_ptr<Source> ecs_ram_role_source(MetadataParams p) {
  if (p.endpoint.empty()) p.endpoint = "http://100.100.100.200";
  return std::make_unique<MetadataSource>(kEcs, std::move(p));
}

}  // namespace bucketfs::creds
