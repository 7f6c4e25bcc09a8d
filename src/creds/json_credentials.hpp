// json_credentials.hpp - the credentials in a JSON answer, as the container
// agents, instance metadata services, Alibaba STS and credential processes
// write them. Internal to src/creds/.
#pragma once

#include <string>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/json.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::creds::detail {

// What a credential service's JSON answer holds (the container agents, EC2
// instance metadata, Alibaba ECS RAM role metadata and STS, a
// credential_process): "AccessKeyId", the secret and the token under their
// fields' names, "Expiration" and, in Alibaba's answers, "Code" and
// "Message". Each source judges what may be missing.
struct JsonCredentials {
  std::string code;
  std::string message;
  sign::Credentials credentials;
  std::string expiration;  // as written; "" when absent
  // "Code <code>: <message excerpt>" when the answer carries a Code other
  // than "Success" (a refusal); "" otherwise.
  std::string refusal() const;
};

// The fields above from a JSON object (Alibaba STS nests them under
// "Credentials").
JsonCredentials json_credentials(const json::Value& object, const char* secret_field, const char* token_field);

// The fields above from body; an error line when it is not a JSON object.
Result<JsonCredentials, std::string> parse_json_credentials(const std::string& body, const char* secret_field,
                                                            const char* token_field);

}  // namespace bucketfs::creds::detail
