// aws_sts.cpp - AWS STS AssumeRole and AssumeRoleWithWebIdentity sources.
//
// Both are Query API calls POSTed as a form (Version 2011-06-15). AssumeRole
// is SigV4-signed (service "sts") with the base source's credentials, fetched
// afresh each time so that a base that itself expires stays valid;
// AssumeRoleWithWebIdentity is not signed: the token file (rotated by EKS
// and Kubernetes) is its proof, read at every fetch.
#include <ctime>

#include "bucketfs/creds/sources.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/xml/sts_xml.hpp"
#include "http_call.hpp"
#include "url.hpp"

namespace bucketfs::creds {

namespace {

std::string default_session_name() { return "bucketfs-" + std::to_string(std::time(nullptr)); }

// What an STS error means for the person mounting.
std::string hint_for(const std::string& code, bool web_identity) {
  if (code == "AccessDenied")
    return web_identity ? "the role's trust policy must allow this identity provider and token subject"
                        : "the role's trust policy must allow the base credentials to assume it";
  if (code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId")
    return "the base credentials are not valid for STS";
  if (code == "ExpiredTokenException" || code == "ExpiredToken") return "the token has expired";
  if (code == "InvalidIdentityToken") return "STS does not trust the token (issuer, audience or signature)";
  if (code == "IDPCommunicationError") return "STS could not reach the identity provider; retrying";
  if (code == "ValidationError") return "check role_arn, role_session_name and duration_seconds";
  return "";
}

Result<Issued, std::string> sts_answer(const std::string& who, const std::string& action,
                                       Result<http::Response, std::string>& r, bool web_identity) {
  if (!r) return who + ": " + r.error();
  if (r->status != 200) {
    auto e = xml::parse_sts_error(r->body);
    std::string what = "STS answered HTTP " + std::to_string(r->status);
    if (e && !e->code.empty()) {
      what += " " + e->code + (e->message.empty() ? "" : ": " + detail::error_excerpt(e->message));
      std::string hint = hint_for(e->code, web_identity);
      if (!hint.empty()) what += "; " + hint;
    } else if (!r->body.empty()) {
      what += " (" + detail::error_excerpt(r->body) + ")";
    }
    return who + ": " + what;
  }
  auto c = xml::parse_sts_credentials(r->body, action);
  if (!c) return who + ": STS answered 200 without " + action + " credentials (not an STS endpoint?)";
  Issued issued;
  issued.credentials.access_key_id = c->access_key_id;
  issued.credentials.secret = Secret(c->secret_access_key);
  issued.credentials.session_token = c->session_token;
  auto exp = parse_timestamp(c->expiration);
  if (!exp) return who + ": STS answered an Expiration that is not a time ('" + c->expiration + "')";
  issued.expiration = *exp;
  return issued;
}

class AssumeRoleSource final : public Source {
 public:
  AssumeRoleSource(AssumeRoleParams p, std::unique_ptr<Source> base)
      : p_(std::move(p)), base_(std::move(base)), caller_(detail::CallLimits{5000, 30, 3}) {
    if (p_.session_name.empty()) p_.session_name = default_session_name();
  }
  std::string describe() const override {
    return p_.origin + ": assume role " + p_.role_arn + " at " + p_.sts.url + " with " + base_->describe();
  }
  std::string kind() const override { return "assume_role"; }

  Result<Issued, std::string> fetch() override {
    auto base = base_->fetch();
    if (!base) return p_.origin + ": the credentials to assume " + p_.role_arn + " with: " + base.error();
    std::vector<std::pair<std::string, std::string>> params = {
        {"Action", "AssumeRole"},
        {"Version", "2011-06-15"},
        {"RoleArn", p_.role_arn},
        {"RoleSessionName", p_.session_name},
        {"ExternalId", p_.external_id},
        {"DurationSeconds", p_.duration_seconds > 0 ? std::to_string(p_.duration_seconds) : ""}};
    const std::string body = detail::form_body(params);
    detail::Url u = detail::parse_url(p_.sts.url);
    sign::SignRequest sr;
    sr.method = "POST";
    sr.path = u.path;
    sr.headers = {{"host", u.host}, {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sign::sigv4::sign(sr, base->credentials, p_.sts.region, "sts", std::time(nullptr),
                      crypto::hex(crypto::sha256(body)));
    http::Request req;
    req.method = "POST";
    req.url = u.scheme + "://" + u.host + u.path;
    for (auto& h : sr.headers)
      if (h.first != "host") req.headers.push_back(std::move(h));
    req.body = body;
    req.has_body = true;
    auto r = caller_.call(req);
    return sts_answer(p_.origin + ": AssumeRole " + p_.role_arn + " at " + p_.sts.url, "AssumeRole", r, false);
  }

 private:
  AssumeRoleParams p_;
  std::unique_ptr<Source> base_;
  detail::HttpCaller caller_;
};

class WebIdentitySource final : public Source {
 public:
  explicit WebIdentitySource(WebIdentityParams p) : p_(std::move(p)), caller_(detail::CallLimits{5000, 30, 3}) {
    if (p_.session_name.empty()) p_.session_name = default_session_name();
  }
  std::string describe() const override {
    return p_.origin + ": web identity token " + p_.token_file + " for role " + p_.role_arn + " at " + p_.sts.url;
  }
  std::string kind() const override { return "web_identity"; }

  Result<Issued, std::string> fetch() override {
    auto token = detail::read_token_file(p_.token_file, "the web identity token file");
    if (!token) return p_.origin + ": " + token.error().message;
    std::vector<std::pair<std::string, std::string>> params = {
        {"Action", "AssumeRoleWithWebIdentity"},
        {"Version", "2011-06-15"},
        {"RoleArn", p_.role_arn},
        {"RoleSessionName", p_.session_name},
        {"WebIdentityToken", *token},
        {"DurationSeconds", p_.duration_seconds > 0 ? std::to_string(p_.duration_seconds) : ""}};
    detail::Url u = detail::parse_url(p_.sts.url);
    http::Request req;
    req.method = "POST";
    req.url = u.scheme + "://" + u.host + u.path;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    req.body = detail::form_body(params);
    req.has_body = true;
    auto r = caller_.call(req);
    return sts_answer(p_.origin + ": AssumeRoleWithWebIdentity " + p_.role_arn + " at " + p_.sts.url,
                      "AssumeRoleWithWebIdentity", r, true);
  }

 private:
  WebIdentityParams p_;
  detail::HttpCaller caller_;
};

}  // namespace

std::unique_ptr<Source> assume_role_source(AssumeRoleParams p, std::unique_ptr<Source> base) {
  return std::make_unique<AssumeRoleSource>(std::move(p), std::move(base));
}

std::unique_ptr<Source> web_identity_source(WebIdentityParams p) {
  return std::make_unique<WebIdentitySource>(std::move(p));
}

}  // namespace bucketfs::creds
