// alibaba_sts.cpp - Alibaba Cloud STS (API version 2015-04-01, JSON answers):
// AssumeRoleWithOIDC for RRSA on ACK (unsigned; the OIDC token file is read
// at every fetch) and AssumeRole for a ram_role_arn profile (RPC signature V1
// with the base credentials). Both POST the role parameters as a form and
// the common parameters in the query, as the Alibaba credentials SDKs do.
#include <random>

#include "bucketfs/creds/sources.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/sign/acs_rpc.hpp"
#include "bucketfs/util/json.hpp"
#include "http_call.hpp"
#include "json_credentials.hpp"

namespace bucketfs::creds {

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

std::string nonce() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string hint_for(const std::string& code) {
  if (code.find("NoPermission") != std::string::npos || code.find("AccessDenied") != std::string::npos)
    return "the role's trust policy must allow this principal";
  if (code.find("InvalidAccessKeyId") != std::string::npos ||
      code.find("SignatureDoesNotMatch") != std::string::npos)
    return "the base AccessKey is not valid";
  if (code.find("OIDCToken") != std::string::npos || code.find("Token.Expired") != std::string::npos)
    return "the OIDC token is expired or not trusted by the OIDC provider";
  return "";
}

Result<Issued, std::string> answer(const std::string& who, Result<http::Response, std::string>& r) {
  if (!r) return who + ": " + r.error();
  auto doc = json::parse(r->body);
  if (r->status != 200) {
    std::string what = who + ": STS answered HTTP " + std::to_string(r->status);
    if (doc && doc->is_object() && !doc->string_at("Code").empty()) {
      std::string code = doc->string_at("Code");
      what += " " + code + ": " + detail::error_excerpt(doc->string_at("Message"));
      std::string hint = hint_for(code);
      if (!hint.empty()) what += "; " + hint;
    } else if (!r->body.empty()) {
      what += " (" + detail::error_excerpt(r->body) + ")";
    }
    return what;
  }
  if (!doc) return who + ": the answer is not JSON (" + doc.error() + ")";
  const json::Value* c = doc->get("Credentials");
  if (c == nullptr || !c->is_object()) return who + ": the answer has no Credentials";
  Issued issued;
  issued.credentials = detail::json_credentials(*c, "AccessKeySecret", "SecurityToken").credentials;
  if (issued.credentials.access_key_id.empty() || issued.credentials.secret.empty() ||
      issued.credentials.session_token.empty())
    return who + ": the answer lacks AccessKeyId, AccessKeySecret or SecurityToken";
  auto exp = parse_timestamp(c->string_at("Expiration"));
  if (!exp) return who + ": the answer's Expiration is not a time";
  issued.expiration = *exp;
  return issued;
}

// POSTs the form to STS with the common parameters in the query; the answer.
Result<Issued, std::string> post(detail::HttpCaller& caller, const std::string& who, std::string sts_url,
                                 const Params& query, const Params& form) {
  if (sts_url.find('/', sts_url.find("://") == std::string::npos ? 0 : sts_url.find("://") + 3) ==
      std::string::npos)
    sts_url += "/";
  http::Request req;
  req.method = "POST";
  req.url = sts_url + "?" + detail::form_body(query);
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = detail::form_body(form);
  req.has_body = true;
  auto r = caller.call(req);
  return answer(who, r);
}

std::string session_name(const std::string& given) {
  return given.empty() ? "bucketfs-" + std::to_string(std::time(nullptr)) : given;
}

class OidcSource final : public Source {
 public:
  explicit OidcSource(OidcParams p) : p_(std::move(p)), caller_(detail::CallLimits{5000, 30, 3}) {
    p_.session_name = session_name(p_.session_name);
  }
  std::string describe() const override {
    return p_.origin + ": OIDC token " + p_.token_file + " for role " + p_.role_arn + " at " + p_.sts_url;
  }
  std::string kind() const override { return "oidc"; }

  Result<Issued, std::string> fetch() override {
    auto token = detail::read_token_file(p_.token_file, "the OIDC token file");
    if (!token) return p_.origin + ": " + token.error().message;
    Params query = {{"Version", "2015-04-01"},
                    {"Action", "AssumeRoleWithOIDC"},
                    {"Format", "JSON"},
                    {"Timestamp", format_timestamp(std::time(nullptr))}};
    Params body = {{"RoleArn", p_.role_arn},
                   {"OIDCProviderArn", p_.provider_arn},
                   {"OIDCToken", *token},
                   {"RoleSessionName", p_.session_name},
                   {"DurationSeconds", std::to_string(p_.duration_seconds)},
                   {"Policy", p_.policy}};
    return post(caller_, p_.origin + ": AssumeRoleWithOIDC " + p_.role_arn + " at " + p_.sts_url, p_.sts_url,
                query, body);
  }

 private:
  OidcParams p_;
  detail::HttpCaller caller_;
};

class RamRoleArnSource final : public Source {
 public:
  RamRoleArnSource(RamRoleArnParams p, std::unique_ptr<Source> base)
      : p_(std::move(p)), base_(std::move(base)), caller_(detail::CallLimits{5000, 30, 3}) {
    p_.session_name = session_name(p_.session_name);
  }
  std::string describe() const override {
    return p_.origin + ": assume RAM role " + p_.role_arn + " at " + p_.sts_url + " with " + base_->describe();
  }
  std::string kind() const override { return "ram_role_arn"; }

  Result<Issued, std::string> fetch() override {
    auto base = base_->fetch();
    if (!base) return p_.origin + ": the credentials to assume " + p_.role_arn + " with: " + base.error();
    Params query = {{"Version", "2015-04-01"},
                    {"Action", "AssumeRole"},
                    {"Format", "JSON"},
                    {"Timestamp", format_timestamp(std::time(nullptr))},
                    {"SignatureMethod", "HMAC-SHA1"},
                    {"SignatureVersion", "1.0"},
                    {"SignatureNonce", nonce()},
                    {"AccessKeyId", base->credentials.access_key_id}};
    if (!base->credentials.session_token.empty())
      query.emplace_back("SecurityToken", base->credentials.session_token);
    Params body = {{"RoleArn", p_.role_arn},
                   {"RoleSessionName", p_.session_name},
                   {"DurationSeconds", std::to_string(p_.duration_seconds)}};
    if (!p_.policy.empty()) body.emplace_back("Policy", p_.policy);
    if (!p_.external_id.empty()) body.emplace_back("ExternalId", p_.external_id);
    Params all = query;
    all.insert(all.end(), body.begin(), body.end());
    query.emplace_back("Signature", sign::acs_rpc::signature(base->credentials.secret,
                                                             sign::acs_rpc::string_to_sign("POST", all)));
    return post(caller_, p_.origin + ": AssumeRole " + p_.role_arn + " at " + p_.sts_url, p_.sts_url, query, body);
  }

 private:
  RamRoleArnParams p_;
  std::unique_ptr<Source> base_;
  detail::HttpCaller caller_;
};

}  // namespace

std::unique_ptr<Source> oidc_source(OidcParams p) { return std::make_unique<OidcSource>(std::move(p)); }

std::unique_ptr<Source> ram_role_arn_source(RamRoleArnParams p, std::unique_ptr<Source> base) {
  return std::make_unique<RamRoleArnSource>(std::move(p), std::move(base));
}

}  // namespace bucketfs::creds
