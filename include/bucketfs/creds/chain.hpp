// chain.hpp - which credentials a mount uses: the credential chains of the
// AWS SDKs and of the Alibaba Cloud credentials SDKs.
//
// The first source that is configured wins, in this order:
//  AWS (provider s3):
//    env           AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//                  (OSS_ACCESS_KEY_ID/... as a fallback, as before)
//    passwd_file   ~/.passwd-bucketfs, ~/.passwd-s3fs, /etc/passwd-bucketfs, /etc/passwd-s3fs
//    profile       ~/.aws/config + ~/.aws/credentials, profile -o profile= /
//                  AWS_PROFILE / default: role_arn (web_identity_token_file,
//                  source_profile or credential_source), credential_process,
//                  or keys
//    web_identity  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//    container     AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI
//    imds          EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED
//  Alibaba (provider oss):
//    env           OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN, then
//                  ALIBABA_CLOUD_ACCESS_KEY_ID, _ACCESS_KEY_SECRET, _SECURITY_TOKEN
//                  (AWS_ACCESS_KEY_ID/... as a fallback, as before)
//    passwd_file   as above
//    oidc          ALIBABA_CLOUD_OIDC_TOKEN_FILE + _ROLE_ARN + _OIDC_PROVIDER_ARN (RRSA)
//    aliyun_cli    ~/.aliyun/config.json (modes AK, StsToken, RamRoleArn,
//                  ChainableRamRoleArn, EcsRamRole, OIDC, External)
//    profile       ~/.alibabacloud/credentials (types access_key, sts,
//                  ram_role_arn, ecs_ram_role, oidc_role_arn, credentials_uri)
//    ecs_ram_role  ECS instance metadata (hardened mode), unless
//                  ALIBABA_CLOUD_ECS_METADATA_DISABLED
//    credentials_uri ALIBABA_CLOUD_CREDENTIALS_URI
// A source that is configured but fails stops the chain with its error (the
// SDKs do the same: a broken profile is not silently skipped); a metadata
// service that cannot be reached counts as "not configured". `credentials=`
// pins one source (any family); `passwd_file=` pins that file and
// `credential_process=` a process. Nothing found: one line listing what was
// tried and why each was skipped.
// Thread-safety: reentrant; resolving blocks on the network.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bucketfs/creds/env.hpp"
#include "bucketfs/creds/provider.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::creds {

enum class Family { Aws, Alibaba };

struct ChainOptions {
  Family family = Family::Aws;
  std::string bucket;
  std::string pinned;              // -o credentials=SOURCE ("" = the whole chain)
  std::string profile;             // -o profile=
  std::string passwd_file;         // -o passwd_file=
  std::string credential_process;  // -o credential_process=
  std::string sts_endpoint;        // -o sts_endpoint= (AWS or Alibaba STS)
  std::string metadata_endpoint;   // -o metadata_endpoint= (EC2 IMDS or ECS metadata)
  bool imds_v1 = false;            // -o imdsv1: tokenless metadata access when the token PUT fails
  std::string region;              // the mount's region (AWS STS signing region and endpoint)
  EnvLookup env;
};

struct Chosen {
  std::shared_ptr<CredentialProvider> provider;  // not started
  std::string description;                       // for the log; never a secret
};

// The values credentials= accepts.
const std::vector<std::string>& source_kinds();

Result<Chosen, std::string> choose_credentials(const ChainOptions& o);

// What the AWS profile says about the S3 endpoint and region, for a mount
// that gives neither: region from AWS_REGION, AWS_DEFAULT_REGION or the
// profile; endpoint from AWS_ENDPOINT_URL_S3, the profile's services s3
// endpoint_url, AWS_ENDPOINT_URL or the profile's endpoint_url. Missing files
// or profile: empty values (an explicitly named profile must exist).
struct ProfileDefaults {
  std::string region;
  std::string endpoint;
};
Result<ProfileDefaults, std::string> aws_profile_defaults(const std::string& profile_option, const EnvLookup& env);

}  // namespace bucketfs::creds
