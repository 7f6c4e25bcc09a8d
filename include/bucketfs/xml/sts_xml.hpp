// sts_xml.hpp - the AWS STS Query API answers (AssumeRole,
// AssumeRoleWithWebIdentity) that the credential chain reads.
//
// parse_sts_credentials returns std::nullopt when the body is not an
// <ActionResponse><ActionResult><Credentials> document with an access key id
// and a secret; parse_sts_error when it is not an <ErrorResponse><Error>
// (Ceph RGW answers a bare <Error> too, which is accepted). Never throws.
// Reentrant. The secret in the result is the caller's to protect.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bucketfs::xml {

struct StsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string expiration;        // ISO 8601 as sent
  std::string assumed_role_arn;  // <AssumedRoleUser><Arn>, when present
};

struct StsError {
  std::string type;  // Sender / Receiver
  std::string code;
  std::string message;
};

// action: "AssumeRole" or "AssumeRoleWithWebIdentity" (the root must be <action>Response).
std::optional<StsCredentials> parse_sts_credentials(std::string_view body, std::string_view action);
std::optional<StsError> parse_sts_error(std::string_view body);

}  // namespace bucketfs::xml
