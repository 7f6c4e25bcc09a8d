// mount_credentials.hpp - the mount's credentials from its options: the
// chain of creds/chain.hpp configured by -o credentials=, profile=,
// passwd_file=, credential_process=, sts_endpoint=, metadata_endpoint=, imdsv1.
// Errors are one line without the "bucketfs: " prefix; never a secret.
#pragma once

#include <string>

#include "bucketfs/cli/options.hpp"
#include "bucketfs/creds/chain.hpp"

namespace bucketfs::cli {

// For an S3 mount that names no endpoint or region: takes them from the AWS
// profile (region, endpoint_url) and AWS_REGION / AWS_ENDPOINT_URL(_S3), as
// the SDKs do. Call before resolve_defaults(). An explicitly named profile
// that does not exist is an error.
Result<void, std::string> apply_profile_defaults(MountConfig* cfg, const creds::EnvLookup& env);

// Runs the credential chain for cfg (defaults resolved); the provider is not started.
Result<creds::Chosen, std::string> choose_mount_credentials(const MountConfig& cfg, const creds::EnvLookup& env);

}  // namespace bucketfs::cli
