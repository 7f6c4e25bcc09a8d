// oss_v1.cpp - OSS Signature V1 ("OSS ak:signature"): HMAC-SHA1 over verb,
// Content-MD5, Content-Type, Date, the x-oss-* headers and the canonicalized
// resource, whose key is not percent-encoded.
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/time.hpp"
#include "internal.hpp"

namespace bucketfs::sign::oss_v1 {
namespace {

// Query parameters that belong to the OSS V1 canonicalized resource: the
// list the official OSS SDK (alibabacloud-oss-go-sdk-v2, signer/v1.go) signs,
// plus every "x-oss-" parameter (sorted, byte order, for binary_search).
const std::vector<std::string_view>& subresources() {
  static const std::vector<std::string_view> kNames = {
      "acl",
      "append",
      "bucketInfo",
      "callback",
      "callback-var",
      "cloudboxes",
      "continuation-token",
      "delete",
      "location",
      "objectMeta",
      "partNumber",
      "position",
      "regionList",
      "response-cache-control",
      "response-content-disposition",
      "response-content-encoding",
      "response-content-language",
      "response-content-type",
      "response-expires",
      "restore",
      "security-token",
      "sequential",
      "stat",
      "symlink",
      "tagging",
      "uploadId",
      "uploads",
      "versionId",
      "versioning",
      "versions",
  };
  return kNames;
}

}  // namespace

std::string canonical_resource(std::string_view bucket, std::string_view key,
                               const std::vector<QueryParam>& query) {
  return detail::legacy_canonical_resource(bucket, key, query, subresources(), "x-oss-");
}

std::string string_to_sign(const SignRequest& r, std::string_view canonical_resource) {
  return detail::legacy_string_to_sign(r, "x-oss-", detail::header_or_empty(r.headers, "date"),
                                       canonical_resource);
}

std::string signature(const Secret& secret, std::string_view string_to_sign) {
  return detail::legacy_signature(secret, string_to_sign);
}

void sign(SignRequest& r, const Credentials& c, std::string_view canonical_resource, std::time_t now) {
  detail::legacy_sign(r, c, now, "x-oss-security-token", "OSS", string_to_sign, canonical_resource);
}

}  // namespace bucketfs::sign::oss_v1
