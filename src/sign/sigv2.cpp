// sigv2.cpp - AWS Signature Version 2 for S3 ("Signing and Authenticating
// REST Requests"): HMAC-SHA1 over verb, Content-MD5, Content-Type, Date, the
// x-amz-* headers and the canonicalized resource. Kept for servers that do
// not speak V4.
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/time.hpp"
#include "internal.hpp"

namespace bucketfs::sign::sigv2 {
namespace {

// Query parameters that are part of the V2 canonicalized resource (sorted,
// byte order, for binary_search). Everything else (prefix, marker, ...) is not
// signed.
const std::vector<std::string_view>& subresources() {
  static const std::vector<std::string_view> kNames = {
      "acl",
      "cors",
      "delete",
      "lifecycle",
      "location",
      "logging",
      "notification",
      "partNumber",
      "policy",
      "requestPayment",
      "response-cache-control",
      "response-content-disposition",
      "response-content-encoding",
      "response-content-language",
      "response-content-type",
      "response-expires",
      "restore",
      "tagging",
      "torrent",
      "uploadId",
      "uploads",
      "versionId",
      "versioning",
      "versions",
      "website",
  };
  return kNames;
}

}  // namespace

std::string canonical_resource(std::string_view bucket, std::string_view key_encoded,
                               const std::vector<QueryParam>& query) {
  return detail::legacy_canonical_resource(bucket, key_encoded, query, subresources(), {});
}

std::string string_to_sign(const SignRequest& r, std::string_view canonical_resource) {
  // With x-amz-date present the Date line is empty: x-amz-date is signed
  // among the x-amz-* headers instead.
  std::string date =
      detail::find_header(r.headers, "x-amz-date") ? std::string() : detail::header_or_empty(r.headers, "date");
  return detail::legacy_string_to_sign(r, "x-amz-", date, canonical_resource);
}

std::string signature(const Secret& secret, std::string_view string_to_sign) {
  return detail::legacy_signature(secret, string_to_sign);
}

void sign(SignRequest& r, const Credentials& c, std::string_view canonical_resource, std::time_t now) {
  detail::legacy_sign(r, c, now, "x-amz-security-token", "AWS", string_to_sign, canonical_resource);
}

}  // namespace bucketfs::sign::sigv2
