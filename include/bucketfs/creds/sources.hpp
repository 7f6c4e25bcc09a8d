// sources.hpp - every place credentials can come from, as Source objects
// (see provider.hpp). chain.hpp decides which one a mount uses; tests build
// them directly against loopback servers.
//
// Each follows the protocol its owner documents:
//  - process: the AWS CLI `credential_process` contract (JSON with Version 1,
//    AccessKeyId, SecretAccessKey, SessionToken, Expiration), the Alibaba
//    CLI "External" mode (mode, access_key_id, access_key_secret, sts_token,
//    expiration) and the OSS SDK's process provider (AccessKeyId,
//    AccessKeySecret, SecurityToken, Expiration). The command is split into
//    words like a shell would ("..." and '...' quote), never run by a shell.
//  - STS AssumeRole (Query API, SigV4-signed with the base credentials) and
//    AssumeRoleWithWebIdentity (unsigned; the token file is read at every fetch).
//  - ECS/EKS container credentials: GET the URL with the Authorization token
//    (read from the token file at every fetch when one is given).
//  - EC2 IMDSv2: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds,
//    then GET /latest/meta-data/iam/security-credentials/ (the role) and
//    /latest/meta-data/iam/security-credentials/ROLE with X-aws-ec2-metadata-token.
//    IMDSv1 (no token) only when allow_v1, and only after the token PUT failed.
//  - Alibaba ECS RAM role: the same dance at 100.100.100.200 with
//    X-aliyun-ecs-metadata-token(-ttl-seconds), under /latest/meta-data/ram/
//    security-credentials/.
//  - Alibaba STS AssumeRoleWithOIDC (unsigned, token file read every fetch)
//    and AssumeRole (RPC signature V1 with the base credentials); a
//    credentials URI (GET, JSON as the ECS metadata answers it).
// Errors: one line, "<source>: <what failed>[; <what to check>]".
// Thread-safety: one fetch at a time per source (the provider serialises).
#pragma once

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bucketfs/creds/env.hpp"
#include "bucketfs/creds/provider.hpp"

namespace bucketfs::creds {

// The same credentials at every fetch (keys read at mount).
std::unique_ptr<Source> fixed_source(sign::Credentials c, std::optional<std::time_t> expiration,
                                     std::string description, std::string kind);

struct ProcessParams {
  std::string command;
  std::string origin;  // for messages: "profile 'dev' credential_process", "-o credential_process"
  std::chrono::seconds timeout{60};
};
std::unique_ptr<Source> process_source(ProcessParams p);
// Parses what a credential process printed (any of the three shapes above).
Result<Issued, std::string> parse_process_output(std::string_view out);
// Splits a command line into words ("..." / '...' quoting, \ escapes in "...").
Result<std::vector<std::string>, std::string> split_command(std::string_view command);

struct StsEndpoint {
  std::string url;     // "https://sts.us-east-1.amazonaws.com" or any URL (RGW: the S3 endpoint)
  std::string region;  // the SigV4 signing region
};

struct AssumeRoleParams {
  std::string role_arn;
  std::string session_name;  // "" -> bucketfs-<unix time>
  std::string external_id;
  int duration_seconds = 0;  // 0: the service's default (3600)
  StsEndpoint sts;
  std::string origin;  // "profile 'dev'"
};
std::unique_ptr<Source> assume_role_source(AssumeRoleParams p, std::unique_ptr<Source> base);

struct WebIdentityParams {
  std::string role_arn;
  std::string session_name;
  std::string token_file;
  int duration_seconds = 0;
  StsEndpoint sts;
  std::string origin;  // "AWS_WEB_IDENTITY_TOKEN_FILE" or "profile 'x'"
};
std::unique_ptr<Source> web_identity_source(WebIdentityParams p);

struct ContainerParams {
  std::string url;
  std::string auth_token;       // AWS_CONTAINER_AUTHORIZATION_TOKEN
  std::string auth_token_file;  // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (wins, read at every fetch)
};
std::unique_ptr<Source> container_source(ContainerParams p);
// From AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (http://169.254.170.2 + it) or
// _FULL_URI (https, or http to a loopback, 169.254.170.2, 169.254.170.23 or
// fd00:ec2::23). nullopt when neither is set; an error for a disallowed host.
Result<std::optional<ContainerParams>, std::string> container_params(const EnvLookup& env);

struct MetadataParams {
  std::string endpoint;   // "http://169.254.169.254" (AWS), "http://100.100.100.200" (Alibaba)
  std::string role_name;  // "" -> ask the service
  bool allow_v1 = false;
  int token_ttl_s = 21600;
};
std::unique_ptr<Source> imds_source(MetadataParams p);
std::unique_ptr<Source> ecs_ram_role_source(MetadataParams p);

struct OidcParams {
  std::string role_arn;
  std::string provider_arn;
  std::string token_file;
  std::string session_name;
  std::string policy;
  int duration_seconds = 3600;
  std::string sts_url;  // "https://sts.aliyuncs.com"
  std::string origin;
};
std::unique_ptr<Source> oidc_source(OidcParams p);

struct RamRoleArnParams {
  std::string role_arn;
  std::string session_name;
  std::string policy;
  std::string external_id;
  int duration_seconds = 3600;
  std::string sts_url;
  std::string origin;
};
std::unique_ptr<Source> ram_role_arn_source(RamRoleArnParams p, std::unique_ptr<Source> base);

std::unique_ptr<Source> credentials_uri_source(std::string uri);

}  // namespace bucketfs::creds
