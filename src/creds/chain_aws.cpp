// chain_aws.cpp - the AWS credential chain's links (see chain.hpp) and the
// resolution of a profile into a source, as the AWS SDKs resolve it:
//  role_arn + web_identity_token_file  -> AssumeRoleWithWebIdentity
//  role_arn + source_profile           -> AssumeRole with that profile's
//                                         credentials (its keys when it names itself)
//  role_arn + credential_source        -> AssumeRole with Environment,
//                                         Ec2InstanceMetadata or EcsContainer
//  sso_session / sso_start_url         -> refused with what to do instead
//  credential_process                  -> the process
//  aws_access_key_id + aws_secret_access_key (+ aws_session_token) -> keys
#include <algorithm>
#include <set>

#include "bucketfs/creds/profiles.hpp"
#include "chain_internal.hpp"

namespace bucketfs::creds::detail {

namespace {

std::string first_of(std::initializer_list<std::string> values) {
  for (const auto& v : values)
    if (!v.empty()) return v;
  return {};
}

std::string sts_url_for_region(const std::string& region) {
  if (region.empty()) return "https://sts.amazonaws.com";
  std::string suffix = region.rfind("cn-", 0) == 0 ? ".amazonaws.com.cn" : ".amazonaws.com";
  return "https://sts." + region + suffix;
}

std::string services_endpoint(const ProfileSet& set, const Profile& p, const std::string& service) {
  std::string section = p.value("services");
  if (section.empty()) return {};
  auto it = set.services.find(section);
  if (it == set.services.end()) return {};
  auto sub = sub_properties(it->second.value(service));
  auto e = sub.find("endpoint_url");
  return e == sub.end() ? std::string() : e->second;
}

// Where STS is for a role in profile p, and the region to sign for.
StsEndpoint sts_for(const ChainOptions& o, const ProfileSet* set, const Profile* p) {
  StsEndpoint s;
  s.region = first_of({env_value(o.env, "AWS_REGION"), env_value(o.env, "AWS_DEFAULT_REGION"),
                       p != nullptr ? p->value("region") : "", o.region});
  s.url = first_of({o.sts_endpoint, env_value(o.env, "AWS_ENDPOINT_URL_STS"),
                    p != nullptr && set != nullptr ? services_endpoint(*set, *p, "sts") : "",
                    env_value(o.env, "AWS_ENDPOINT_URL"), p != nullptr ? p->value("endpoint_url") : "",
                    sts_url_for_region(s.region)});
  if (s.region.empty()) s.region = "us-east-1";
  return s;
}

MetadataParams imds_params(const ChainOptions& o, const Profile* p) {
  MetadataParams m;
  std::string mode = first_of({env_value(o.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"),
                               p != nullptr ? p->value("ec2_metadata_service_endpoint_mode") : ""});
  std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return std::tolower(c); });
  m.endpoint = first_of({o.metadata_endpoint, env_value(o.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
                         p != nullptr ? p->value("ec2_metadata_service_endpoint") : "",
                         mode == "ipv6" ? "http://[fd00:ec2::254]" : "http://169.254.169.254"});
  std::string v1 = first_of({env_value(o.env, "AWS_EC2_METADATA_V1_DISABLED"),
                             p != nullptr ? p->value("ec2_metadata_v1_disabled") : ""});
  m.allow_v1 = o.imds_v1 || v1 == "false" || v1 == "False" || v1 == "FALSE";
  return m;
}

int duration_of(const Profile& p) {
  std::string d = p.value("duration_seconds");
  return d.empty() ? 0 : std::atoi(d.c_str());
}

Step keys_of(const Profile& p, const std::string& name) {
  std::string id = p.value("aws_access_key_id");
  std::string secret = p.value("aws_secret_access_key");
  if (id.empty() && secret.empty()) return Step::skipped("profile '" + name + "' has no credentials");
  if (id.empty() || secret.empty())
    return Step::failed("profile '" + name + "' has " +
                        (id.empty() ? "aws_secret_access_key but no aws_access_key_id"
                                    : "aws_access_key_id but no aws_secret_access_key"));
  sign::Credentials c;
  c.access_key_id = id;
  c.secret = Secret(secret);
  std::fill(secret.begin(), secret.end(), '\0');
  c.session_token = p.value("aws_session_token");
  return Step::found(fixed_source(std::move(c), std::nullopt, "profile '" + name + "' keys", "profile"));
}

class Resolver {
 public:
  Resolver(const ChainOptions& o, const ProfileSet& set) : o_(o), set_(set) {}

  // The source for profile `name`; Skipped when it holds no credentials.
  Step resolve(const std::string& name) {
    const Profile* p = set_.find(name);
    if (p == nullptr) return Step::skipped("no profile '" + name + "' in " + files());
    if (!visited_.insert(name).second)
      return Step::failed("profile '" + name + "': source_profile loops back to it");
    const std::string origin = "profile '" + name + "'";
    if (!p->value("role_arn").empty()) return role(name, *p, origin);
    if (!p->value("sso_session").empty() || !p->value("sso_start_url").empty())
      return Step::failed(origin +
                          " uses IAM Identity Center (SSO), which bucketfs does not log in to: set "
                          "credential_process = aws configure export-credentials --profile " +
                          name + " --format process");
    if (!p->value("credential_process").empty())
      return Step::found(process_source(
          {p->value("credential_process"), origin + " credential_process", std::chrono::seconds(60)}));
    return keys_of(*p, name);
  }

 private:
  std::string files() const {
    std::string f = set_.config_path;
    if (!set_.credentials_path.empty()) f += (f.empty() ? "" : " or ") + set_.credentials_path;
    return f.empty() ? "the AWS files (HOME is not set)" : f;
  }

  Step role(const std::string& name, const Profile& p, const std::string& origin) {
    const std::string role_arn = p.value("role_arn");
    if (!p.value("mfa_serial").empty())
      return Step::failed(origin +
                          " needs an MFA code (mfa_serial), which a mount cannot ask for: use "
                          "credential_process or a role without MFA");
    if (!p.value("web_identity_token_file").empty()) {
      WebIdentityParams w{role_arn,       p.value("role_session_name"), p.value("web_identity_token_file"),
                          duration_of(p), sts_for(o_, &set_, &p),       origin};
      return Step::found(web_identity_source(std::move(w)));
    }
    const std::string source_profile = p.value("source_profile");
    const std::string credential_source = p.value("credential_source");
    if (!source_profile.empty() && !credential_source.empty())
      return Step::failed(origin + " has both source_profile and credential_source: keep one");
    std::unique_ptr<Source> base;
    if (!source_profile.empty()) {
      if (source_profile == name) {
        Step keys = keys_of(p, name);  // a profile that names itself uses its own keys
        if (keys.kind != Step::Found)
          return Step::failed(origin + " is its own source_profile but has no keys: " + keys.why);
        base = std::move(keys.source);
      } else {
        Step b = resolve(source_profile);
        if (b.kind == Step::Failed) return b;
        if (b.kind == Step::Skipped)
          return Step::failed(origin + ": source_profile '" + source_profile + "': " + b.why);
        base = std::move(b.source);
      }
    } else if (credential_source == "Environment") {
      Step e = env_keys_step(o_, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN");
      if (e.kind != Step::Found) return Step::failed(origin + ": credential_source Environment: " + e.why);
      base = std::move(e.source);
    } else if (credential_source == "Ec2InstanceMetadata") {
      base = imds_source(imds_params(o_, &p));
    } else if (credential_source == "EcsContainer") {
      auto c = container_params(o_.env);
      if (!c) return Step::failed(origin + ": credential_source EcsContainer: " + c.error());
      if (!*c)
        return Step::failed(origin +
                            ": credential_source EcsContainer, but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                            "and _FULL_URI are not set");
      base = container_source(std::move(**c));
    } else if (!credential_source.empty()) {
      return Step::failed(origin + ": credential_source " + credential_source +
                          " is not one of Environment, Ec2InstanceMetadata, EcsContainer");
    } else {
      return Step::failed(origin + " has role_arn but neither source_profile nor credential_source");
    }
    AssumeRoleParams a{role_arn,       p.value("role_session_name"), p.value("external_id"),
                       duration_of(p), sts_for(o_, &set_, &p),       origin};
    return Step::found(assume_role_source(std::move(a), std::move(base)));
  }

  const ChainOptions& o_;
  const ProfileSet& set_;
  std::set<std::string> visited_;
};

bool named_explicitly(const ChainOptions& o) {
  return !o.profile.empty() || !env_value(o.env, "AWS_PROFILE").empty() ||
         !env_value(o.env, "AWS_DEFAULT_PROFILE").empty();
}

Step profile_step(const ChainOptions& o) {
  auto set = load_aws_profiles(o.env);
  if (!set) return Step::failed(set.error());
  const std::string name = aws_profile_name(o.profile, o.env);
  Resolver r(o, *set);
  Step s = r.resolve(name);
  // A profile the user named must exist (one without credentials is passed
  // over, as the SDKs do: the instance's role may be meant).
  if (s.kind == Step::Skipped && named_explicitly(o) && set->find(name) == nullptr) return Step::failed(s.why);
  return s;
}

Step web_identity_step(const ChainOptions& o) {
  std::string token_file = env_value(o.env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  if (token_file.empty()) return Step::skipped("AWS_WEB_IDENTITY_TOKEN_FILE is not set");
  std::string role = env_value(o.env, "AWS_ROLE_ARN");
  if (role.empty()) return Step::failed("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  WebIdentityParams w{role,
                      env_value(o.env, "AWS_ROLE_SESSION_NAME"),
                      token_file,
                      0,
                      sts_for(o, nullptr, nullptr),
                      "AWS_WEB_IDENTITY_TOKEN_FILE"};
  return Step::found(web_identity_source(std::move(w)));
}

Step container_step(const ChainOptions& o) {
  auto c = container_params(o.env);
  if (!c) return Step::failed(c.error());
  if (!*c) return Step::skipped("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
  return Step::found(container_source(std::move(**c)));
}

Step imds_step(const ChainOptions& o) {
  if (env_true(o.env, "AWS_EC2_METADATA_DISABLED")) return Step::skipped("AWS_EC2_METADATA_DISABLED is set");
  return Step::found(imds_source(imds_params(o, nullptr)), true);
}

Step process_step(const ChainOptions& o) {
  if (!o.credential_process.empty()) return process_option_step(o);
  auto set = load_aws_profiles(o.env);
  if (!set) return Step::failed(set.error());
  const std::string name = aws_profile_name(o.profile, o.env);
  const Profile* p = set->find(name);
  if (p == nullptr || p->value("credential_process").empty())
    return Step::skipped("neither -o credential_process nor profile '" + name + "' credential_process is set");
  return Step::found(process_source(
      {p->value("credential_process"), "profile '" + name + "' credential_process", std::chrono::seconds(60)}));
}

Step env_step(const ChainOptions& o) {
  Step s = env_keys_step(o, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN");
  if (s.kind != Step::Skipped) return s;
  Step oss = env_keys_step(o, "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN");
  if (oss.kind == Step::Skipped) return s;
  return oss;
}

}  // namespace

std::vector<Link> aws_links() {
  return {{"env", env_step},         {"passwd_file", passwd_step},        {"profile", profile_step},
          {"process", process_step}, {"web_identity", web_identity_step}, {"container", container_step},
          {"imds", imds_step}};
}

}  // namespace bucketfs::creds::detail

namespace bucketfs::creds {

Result<ProfileDefaults, std::string> aws_profile_defaults(const std::string& profile_option,
                                                          const EnvLookup& env) {
  auto set = load_aws_profiles(env);
  if (!set) return set.error();
  const std::string name = aws_profile_name(profile_option, env);
  const Profile* p = set->find(name);
  if (p == nullptr && !profile_option.empty())
    return "profile '" + name + "' is not in " + set->config_path + " or " + set->credentials_path;
  ProfileDefaults d;
  d.region = env_value(env, "AWS_REGION");
  if (d.region.empty()) d.region = env_value(env, "AWS_DEFAULT_REGION");
  if (d.region.empty() && p != nullptr) d.region = p->value("region");
  d.endpoint = env_value(env, "AWS_ENDPOINT_URL_S3");
  if (d.endpoint.empty() && p != nullptr) d.endpoint = detail::services_endpoint(*set, *p, "s3");
  if (d.endpoint.empty()) d.endpoint = env_value(env, "AWS_ENDPOINT_URL");
  if (d.endpoint.empty() && p != nullptr) d.endpoint = p->value("endpoint_url");
  return d;
}

}  // namespace bucketfs::creds
