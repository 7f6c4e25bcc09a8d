// chain_alibaba.cpp - the Alibaba Cloud credential chain's links (see
// chain.hpp), in the order of the Alibaba credentials SDKs' default chain,
// with the OSS_* variables of ossutil and the OSS SDKs first.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bucketfs/creds/profiles.hpp"
#include "bucketfs/util/json.hpp"
#include "chain_internal.hpp"
#include "http_call.hpp"

namespace bucketfs::creds::detail {

namespace {

std::string sts_url(const ChainOptions& o, const std::string& region_override) {
  if (!o.sts_endpoint.empty()) return o.sts_endpoint;
  std::string region = region_override.empty() ? env_value(o.env, "ALIBABA_CLOUD_STS_REGION") : region_override;
  std::string prefix = env_true(o.env, "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED") ? "sts-vpc" : "sts";
  return region.empty() ? "https://sts.aliyuncs.com" : "https://" + prefix + "." + region + ".aliyuncs.com";
}

MetadataParams ecs_params(const ChainOptions& o, const std::string& role) {
  MetadataParams m;
  m.endpoint = o.metadata_endpoint;
  m.role_name = role.empty() ? env_value(o.env, "ALIBABA_CLOUD_ECS_METADATA") : role;
  std::string v1 = env_value(o.env, "ALIBABA_CLOUD_IMDSV1_DISABLED");
  m.allow_v1 = o.imds_v1 || v1 == "false";
  return m;
}

std::unique_ptr<Source> keys(std::string id, std::string secret, std::string token, std::string description) {
  sign::Credentials c;
  c.access_key_id = std::move(id);
  c.secret = Secret(std::move(secret));
  c.session_token = std::move(token);
  return fixed_source(std::move(c), std::nullopt, std::move(description), "profile");
}

Step env_step(const ChainOptions& o) {
  Step s = env_keys_step(o, "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN");
  if (s.kind != Step::Skipped) return s;
  Step a = env_keys_step(o, "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                         "ALIBABA_CLOUD_SECURITY_TOKEN");
  if (a.kind != Step::Skipped) return a;
  Step aws = env_keys_step(o, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN");
  if (aws.kind == Step::Skipped) return s;
  return aws;
}

Step oidc_step(const ChainOptions& o) {
  std::string token_file = env_value(o.env, "ALIBABA_CLOUD_OIDC_TOKEN_FILE");
  if (token_file.empty()) return Step::skipped("ALIBABA_CLOUD_OIDC_TOKEN_FILE is not set");
  OidcParams p;
  p.token_file = token_file;
  p.role_arn = env_value(o.env, "ALIBABA_CLOUD_ROLE_ARN");
  p.provider_arn = env_value(o.env, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
  p.session_name = env_value(o.env, "ALIBABA_CLOUD_ROLE_SESSION_NAME");
  if (p.role_arn.empty() || p.provider_arn.empty())
    return Step::failed(
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE is set but " +
        std::string(p.role_arn.empty() ? "ALIBABA_CLOUD_ROLE_ARN" : "ALIBABA_CLOUD_OIDC_PROVIDER_ARN") +
        " is not");
  p.sts_url = sts_url(o, "");
  p.origin = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
  return Step::found(oidc_source(std::move(p)));
}

// ~/.alibabacloud/credentials
Step profile_step(const ChainOptions& o) {
  auto set = load_alibaba_profiles(o.env);
  if (!set) return Step::failed(set.error());
  std::string name = o.profile.empty() ? env_value(o.env, "ALIBABA_CLOUD_PROFILE") : o.profile;
  if (name.empty()) name = "default";
  const Profile* p = set->find(name);
  if (p == nullptr) return Step::skipped("no profile '" + name + "' in " + set->credentials_path);
  if (p->value("enable") == "false") return Step::skipped("profile '" + name + "' has enable = false");
  const std::string origin = "profile '" + name + "' of " + set->credentials_path;
  const std::string type = p->value("type");
  if (type == "access_key" || type == "sts") {
    if (p->value("access_key_id").empty() || p->value("access_key_secret").empty())
      return Step::failed(origin + ": type " + type + " needs access_key_id and access_key_secret");
    return Step::found(keys(p->value("access_key_id"), p->value("access_key_secret"), p->value("security_token"),
                            origin + " (" + type + ")"));
  }
  if (type == "ecs_ram_role") return Step::found(ecs_ram_role_source(ecs_params(o, p->value("role_name"))));
  if (type == "credentials_uri") return Step::found(credentials_uri_source(p->value("credentials_uri")));
  if (type == "oidc_role_arn") {
    OidcParams op{p->value("role_arn"),
                  p->value("oidc_provider_arn"),
                  p->value("oidc_token_file_path"),
                  p->value("role_session_name"),
                  p->value("policy"),
                  3600,
                  sts_url(o, p->value("sts_region")),
                  origin};
    return Step::found(oidc_source(std::move(op)));
  }
  if (type == "ram_role_arn") {
    if (p->value("access_key_id").empty() || p->value("access_key_secret").empty() || p->value("role_arn").empty())
      return Step::failed(origin + ": type ram_role_arn needs access_key_id, access_key_secret and role_arn");
    RamRoleArnParams rp{p->value("role_arn"),
                        p->value("role_session_name"),
                        p->value("policy"),
                        p->value("external_id"),
                        3600,
                        sts_url(o, p->value("sts_region")),
                        origin};
    return Step::found(ram_role_arn_source(
        std::move(rp), keys(p->value("access_key_id"), p->value("access_key_secret"), "", origin + " keys")));
  }
  return Step::failed(
      origin + ": type '" + type +
      "' is not one of access_key, sts, ecs_ram_role, ram_role_arn, oidc_role_arn, credentials_uri");
}

// ~/.aliyun/config.json, the Alibaba Cloud CLI's profiles.
class CliProfiles {
 public:
  CliProfiles(const ChainOptions& o, json::Value doc, std::string path)
      : o_(o), doc_(std::move(doc)), path_(std::move(path)) {}

  Step resolve(const std::string& name, int depth) {
    if (depth > 8) return Step::failed(path_ + ": source_profile chain of '" + name + "' is too long");
    const json::Value* p = find(name);
    if (p == nullptr) return Step::skipped("no profile '" + name + "' in " + path_);
    const std::string origin = "Alibaba CLI profile '" + name + "'";
    const std::string mode = p->string_at("mode");
    auto s = [p](const char* k) { return p->string_at(k); };
    int seconds = 3600;
    if (const json::Value* e = p->get("expired_seconds"); e != nullptr && e->is_number() && e->as_number() > 0)
      seconds = static_cast<int>(e->as_number());
    if (mode == "AK" || mode == "StsToken")
      return Step::found(keys(s("access_key_id"), s("access_key_secret"), mode == "StsToken" ? s("sts_token") : "",
                              origin + " (" + mode + ")"));
    if (mode == "EcsRamRole") return Step::found(ecs_ram_role_source(ecs_params(o_, s("ram_role_name"))));
    if (mode == "External") {
      if (s("process_command").empty()) return Step::failed(origin + ": mode External needs process_command");
      return Step::found(process_source({s("process_command"), origin, std::chrono::seconds(60)}));
    }
    if (mode == "OIDC") {
      OidcParams op{s("ram_role_arn"),
                    s("oidc_provider_arn"),
                    s("oidc_token_file"),
                    s("ram_session_name"),
                    s("policy"),
                    seconds,
                    sts_url(o_, s("sts_region")),
                    origin};
      return Step::found(oidc_source(std::move(op)));
    }
    if (mode == "RamRoleArn" || mode == "ChainableRamRoleArn") {
      std::unique_ptr<Source> base;
      if (mode == "RamRoleArn") {
        base = keys(s("access_key_id"), s("access_key_secret"), s("sts_token"), origin + " keys");
      } else {
        Step b = resolve(s("source_profile"), depth + 1);
        if (b.kind != Step::Found)
          return Step::failed(origin + ": source_profile '" + s("source_profile") + "': " + b.why);
        base = std::move(b.source);
      }
      RamRoleArnParams rp{s("ram_role_arn"), s("ram_session_name"),        s("policy"), s("external_id"),
                          seconds,           sts_url(o_, s("sts_region")), origin};
      return Step::found(ram_role_arn_source(std::move(rp), std::move(base)));
    }
    return Step::failed(origin + ": mode '" + mode +
                        "' is not supported (AK, StsToken, RamRoleArn, "
                        "ChainableRamRoleArn, EcsRamRole, OIDC, External)");
  }

  std::string current() const { return doc_.string_at("current"); }

 private:
  const json::Value* find(const std::string& name) const {
    const json::Value* list = doc_.get("profiles");
    if (list == nullptr) return nullptr;
    for (const auto& p : list->items())
      if (p.string_at("name") == name) return &p;
    return nullptr;
  }
  const ChainOptions& o_;
  json::Value doc_;
  std::string path_;
};

Step aliyun_cli_step(const ChainOptions& o) {
  if (env_value(o.env, "ALIBABA_CLOUD_CLI_PROFILE_DISABLED") == "true")
    return Step::skipped("ALIBABA_CLOUD_CLI_PROFILE_DISABLED is set");
  std::string home = env_value(o.env, "HOME");
  if (home.empty()) return Step::skipped("HOME is not set");
  const std::string path = home + "/.aliyun/config.json";
  if (::access(path.c_str(), F_OK) != 0) return Step::skipped(path + " does not exist");
  auto text = read_token_file(path, "the Alibaba CLI configuration");
  if (!text) return Step::failed(text.error().message);
  auto doc = json::parse(*text);
  std::fill(text->begin(), text->end(), '\0');
  if (!doc) return Step::failed(path + ": " + doc.error());
  CliProfiles cli(o, std::move(*doc), path);
  std::string name = o.profile.empty() ? env_value(o.env, "ALIBABA_CLOUD_PROFILE") : o.profile;
  if (name.empty()) name = cli.current();
  if (name.empty()) return Step::skipped(path + " names no current profile");
  return cli.resolve(name, 0);
}

Step process_step(const ChainOptions& o) {
  if (!o.credential_process.empty()) return process_option_step(o);
  return Step::skipped("-o credential_process is not given (or use an Alibaba CLI profile in External mode)");
}

Step ecs_step(const ChainOptions& o) {
  if (env_true(o.env, "ALIBABA_CLOUD_ECS_METADATA_DISABLED"))
    return Step::skipped("ALIBABA_CLOUD_ECS_METADATA_DISABLED is set");
  return Step::found(ecs_ram_role_source(ecs_params(o, "")), true);
}

Step uri_step(const ChainOptions& o) {
  std::string uri = env_value(o.env, "ALIBABA_CLOUD_CREDENTIALS_URI");
  if (uri.empty()) return Step::skipped("ALIBABA_CLOUD_CREDENTIALS_URI is not set");
  return Step::found(credentials_uri_source(uri));
}

}  // namespace

std::vector<Link> alibaba_links() {
  return {{"env", env_step},          {"passwd_file", passwd_step},
          {"oidc", oidc_step},        {"aliyun_cli", aliyun_cli_step},
          {"profile", profile_step},  {"process", process_step},
          {"ecs_ram_role", ecs_step}, {"credentials_uri", uri_step}};
}

}  // namespace bucketfs::creds::detail
