// mount_credentials.cpp - see mount_credentials.hpp.
#include "bucketfs/cli/mount_credentials.hpp"

namespace bucketfs::cli {

Result<void, std::string> apply_profile_defaults(MountConfig* cfg, const creds::EnvLookup& env) {
  if (cfg->provider.value_or(Provider::S3) == Provider::OSS) return {};
  if (!cfg->endpoint.empty() && !cfg->region.empty()) return {};
  if (!cfg->endpoint.empty() && guess_provider(cfg->endpoint) == Provider::OSS) return {};
  auto d = creds::aws_profile_defaults(cfg->profile, env);
  if (!d) return d.error();
  if (cfg->endpoint.empty()) cfg->endpoint = d->endpoint;
  if (cfg->region.empty()) cfg->region = d->region;
  return {};
}

Result<creds::Chosen, std::string> choose_mount_credentials(const MountConfig& cfg, const creds::EnvLookup& env) {
  creds::ChainOptions o;
  o.family = cfg.provider.value_or(Provider::S3) == Provider::OSS ? creds::Family::Alibaba : creds::Family::Aws;
  o.bucket = cfg.bucket;
  o.pinned = cfg.credentials_source;
  o.profile = cfg.profile;
  o.passwd_file = cfg.passwd_file;
  o.credential_process = cfg.credential_process;
  o.sts_endpoint = cfg.sts_endpoint;
  o.metadata_endpoint = cfg.metadata_endpoint;
  o.imds_v1 = cfg.imds_v1;
  o.region = cfg.region;
  o.env = env;
  return creds::choose_credentials(o);
}

}  // namespace bucketfs::cli
