// container_sources.cpp - credentials from a local HTTP agent: the ECS/EKS
// container credential endpoint (AWS) and a credentials URI (Alibaba).
//
// The container URL is checked as the AWS SDKs check it: https, or http to a
// loopback address, the ECS agent (169.254.170.2) or the EKS Pod Identity
// agent (169.254.170.23, fd00:ec2::23); a name is resolved and every address
// must qualify, so that credentials never travel in clear text elsewhere.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

#include "bucketfs/creds/sources.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "http_call.hpp"
#include "json_credentials.hpp"
#include "url.hpp"

namespace bucketfs::creds {

namespace {

bool allowed_address(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (a >> 24) == 127 || a == 0xA9FEAA02u /* 169.254.170.2 */ || a == 0xA9FEAA17u /* 169.254.170.23 */;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    in6_addr eks{};
    ::inet_pton(AF_INET6, "fd00:ec2::23", &eks);
    return std::memcmp(&a, &eks, sizeof a) == 0;
  }
  return false;
}

Result<void, std::string> check_full_uri(const std::string& uri) {
  detail::Url u = detail::parse_url(uri);
  if (uri.find("://") == std::string::npos)
    return "AWS_CONTAINER_CREDENTIALS_FULL_URI '" + uri + "' has no scheme";
  if (u.scheme == "https") return {};
  if (u.scheme != "http") return std::string("AWS_CONTAINER_CREDENTIALS_FULL_URI must be http:// or https://");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(u.hostname.c_str(), nullptr, &hints, &res); rc != 0)
    return "AWS_CONTAINER_CREDENTIALS_FULL_URI: cannot resolve " + u.hostname + ": " + ::gai_strerror(rc);
  bool ok = res != nullptr;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) ok = ok && allowed_address(ai->ai_addr);
  ::freeaddrinfo(res);
  if (!ok)
    return "AWS_CONTAINER_CREDENTIALS_FULL_URI " + uri +
           ": plain http is allowed only to a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23 "
           "(use https)";
  return {};
}

// {"AccessKeyId", <secret>, <token>, "Expiration"} as both agents answer.
Result<Issued, std::string> parse_agent_json(const std::string& body, const char* secret_field,
                                             const char* token_field) {
  auto answer = detail::parse_json_credentials(body, secret_field, token_field);
  if (!answer) return answer.error();
  if (std::string no = answer->refusal(); !no.empty()) return "the answer has " + no;
  Issued issued;
  issued.credentials = std::move(answer->credentials);
  if (issued.credentials.access_key_id.empty() || issued.credentials.secret.empty())
    return std::string("the answer lacks AccessKeyId or ") + secret_field;
  if (!answer->expiration.empty()) {
    auto t = parse_timestamp(answer->expiration);
    if (!t) return std::string("the answer's Expiration is not a time");
    issued.expiration = *t;
  }
  return issued;
}

class ContainerSource final : public Source {
 public:
  explicit ContainerSource(ContainerParams p) : p_(std::move(p)), caller_(detail::CallLimits{2000, 5, 3}) {}
  std::string describe() const override { return "container credentials at " + p_.url; }
  std::string kind() const override { return "container"; }

  Result<Issued, std::string> fetch() override {
    http::Request req;
    req.url = p_.url;
    std::string auth = p_.auth_token;
    if (!p_.auth_token_file.empty()) {
      auto t = detail::read_token_file(p_.auth_token_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
      if (!t) return describe() + ": " + t.error().message;
      auth = *t;
    }
    if (auth.find_first_of("\r\n") != std::string::npos)
      return describe() + ": the authorization token contains a line break";
    if (!auth.empty()) req.headers = {{"Authorization", auth}};
    auto r = caller_.call(req);
    if (!r) return describe() + ": " + r.error();
    if (r->status != 200) {
      std::string what = describe() + ": the agent answered HTTP " + std::to_string(r->status);
      if (!r->body.empty()) what += " (" + detail::error_excerpt(r->body) + ")";
      if (r->status == 401 || r->status == 403)
        what += auth.empty() ? "; it wants an authorization token (AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE])"
                             : "; check the authorization token";
      return what;
    }
    auto issued = parse_agent_json(r->body, "SecretAccessKey", "Token");
    std::fill(r->body.begin(), r->body.end(), '\0');
    if (!issued) return describe() + ": " + issued.error();
    return issued;
  }

 private:
  ContainerParams p_;
  detail::HttpCaller caller_;
};

class CredentialsUriSource final : public Source {
 public:
  explicit CredentialsUriSource(std::string uri)
      : uri_(std::move(uri)), caller_(detail::CallLimits{5000, 10, 3}) {}
  std::string describe() const override { return "credentials URI " + uri_; }
  std::string kind() const override { return "credentials_uri"; }

  Result<Issued, std::string> fetch() override {
    http::Request req;
    req.url = uri_;
    auto r = caller_.call(req);
    if (!r) return describe() + ": " + r.error();
    if (r->status != 200)
      return describe() + ": answered HTTP " + std::to_string(r->status) +
             (r->body.empty() ? "" : " (" + detail::error_excerpt(r->body) + ")");
    auto issued = parse_agent_json(r->body, "AccessKeySecret", "SecurityToken");
    std::fill(r->body.begin(), r->body.end(), '\0');
    if (!issued) return describe() + ": " + issued.error();
    return issued;
  }

 private:
  std::string uri_;
  detail::HttpCaller caller_;
};

}  // namespace

Result<std::optional<ContainerParams>, std::string> container_params(const EnvLookup& env) {
  ContainerParams p;
  std::string relative = env_value(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  std::string full = env_value(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!relative.empty()) {
    p.url = "http://169.254.170.2" + (relative[0] == '/' ? relative : "/" + relative);
  } else if (!full.empty()) {
    if (auto ok = check_full_uri(full); !ok) return ok.error();
    p.url = full;
  } else {
    return std::optional<ContainerParams>();
  }
  p.auth_token = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  p.auth_token_file = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  return std::optional<ContainerParams>(std::move(p));
}

std::unique_ptr<Source> container_source(ContainerParams p) {
  return std::make_unique<ContainerSource>(std::move(p));
}

std::unique_ptr<Source> credentials_uri_source(std::string uri) {
  return std::make_unique<CredentialsUriSource>(std::move(uri));
}

}  // namespace bucketfs::creds
