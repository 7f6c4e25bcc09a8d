// json_credentials.cpp - see json_credentials.hpp.
#include "json_credentials.hpp"

#include "http_call.hpp"

namespace bucketfs::creds::detail {

std::string JsonCredentials::refusal() const {
  if (code.empty() || code == "Success") return "";
  return "Code " + code + ": " + error_excerpt(message);
}

JsonCredentials json_credentials(const json::Value& object, const char* secret_field, const char* token_field) {
  JsonCredentials out;
  out.code = object.string_at("Code");
  out.message = object.string_at("Message");
  out.credentials.access_key_id = object.string_at("AccessKeyId");
  out.credentials.secret = Secret(object.string_at(secret_field));
  out.credentials.session_token = object.string_at(token_field);
  out.expiration = object.string_at("Expiration");
  return out;
}

Result<JsonCredentials, std::string> parse_json_credentials(const std::string& body, const char* secret_field,
                                                            const char* token_field) {
  auto doc = json::parse(body);
  if (!doc) return "the answer is not JSON (" + doc.error() + ")";
  if (!doc->is_object()) return std::string("the answer is not a JSON object");
  return json_credentials(*doc, secret_field, token_field);
}

}  // namespace bucketfs::creds::detail
