// profiles.hpp - the shared configuration files: AWS ~/.aws/config and
// ~/.aws/credentials, and Alibaba ~/.alibabacloud/credentials.
//
// The AWS files follow the SDKs' common parser rules (the cross-SDK profile
// parser tests):
//  - "#" or ";" start a comment at the start of a line and after a section
//    header; after a property value only when whitespace precedes them
//    ("value # c" -> "value", "value#c" stays);
//  - section names and property names and values are trimmed;
//  - a line that starts with whitespace continues the previous property
//    (value + "\n" + the trimmed line); under an empty value those lines are
//    sub-properties ("s3 =\n  endpoint_url = x");
//  - in the config file profiles are "[profile NAME]" (and "[default]");
//    "[NAME]" without the prefix is ignored there, and "[profile NAME]" is
//    ignored in the credentials file; "[profile default]" wins over
//    "[default]"; "[sso-session N]" and "[services N]" sections are kept apart;
//  - repeated sections merge, the last value of a property wins, and the
//    credentials file wins over the config file;
//  - names with characters outside A-Z a-z 0-9 - _ / . % @ : + are ignored.
// Property names are matched case-insensitively by get().
// Errors: "FILE line N: what" (a line that is neither a section, a property,
// a comment nor a continuation); never a property value (it may be a secret).
// Thread-safety: plain data and reentrant functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "bucketfs/creds/env.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::creds {

struct Profile {
  std::map<std::string, std::string> properties;
  // The value of `name` (any case), or nullopt.
  std::optional<std::string> get(std::string_view name) const;
  // The value or "".
  std::string value(std::string_view name) const { return get(name).value_or(""); }
};

struct ProfileSet {
  std::map<std::string, Profile> profiles;
  std::map<std::string, Profile> sso_sessions;
  std::map<std::string, Profile> services;
  std::string config_path;  // where they were read from (for messages)
  std::string credentials_path;
  const Profile* find(const std::string& name) const;
};

enum class FileKind { Config, Credentials };

// Parses one file's text and merges it into *out (call the config file first).
Result<void, std::string> parse_profile_file(std::string_view text, FileKind kind, const std::string& file_name,
                                             ProfileSet* out);

// Parses a sub-property block ("\nname = value\n...") into name -> value.
std::map<std::string, std::string> sub_properties(std::string_view block);

// Reads the AWS files: $AWS_CONFIG_FILE or ~/.aws/config, then
// $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials. A missing file is
// fine; an unreadable or malformed one is an error.
Result<ProfileSet, std::string> load_aws_profiles(const EnvLookup& env);

// Reads $ALIBABA_CLOUD_CREDENTIALS_FILE or ~/.alibabacloud/credentials (plain
// "[name]" sections, "#"/";" comments).
Result<ProfileSet, std::string> load_alibaba_profiles(const EnvLookup& env);

// The AWS profile name: -o profile= if given, else AWS_PROFILE, else
// AWS_DEFAULT_PROFILE, else "default".
std::string aws_profile_name(const std::string& option, const EnvLookup& env);

}  // namespace bucketfs::creds
