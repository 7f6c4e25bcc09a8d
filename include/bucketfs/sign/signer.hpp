// signer.hpp - request signing as pure functions (no network, no clock: the time
// is passed in), so each stage can be tested against published vectors.
//
// Dialects: AWS Signature V4 (S3), AWS Signature V2 (legacy S3, s3rver),
// OSS Signature V1 (HMAC-SHA1) and OSS Signature V4 (OSS4-HMAC-SHA256).
// Thread-safety: every function is reentrant.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bucketfs/util/secret.hpp"

namespace bucketfs::sign {

struct Credentials {
  std::string access_key_id;
  Secret secret;
  std::string session_token;  // empty when not using temporary credentials
};

// One query parameter, not percent-encoded. has_value=false for a bare
// sub-resource such as "?uploads" (V4 canonicalises it as "uploads=").
struct QueryParam {
  std::string name;
  std::string value;
  bool has_value = true;
};

// A request as the signers see it. The signers add headers to `headers`.
struct SignRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // as sent on the wire, percent-encoded: "/bucket/a%20b" or "/a%20b"
  std::vector<QueryParam> query;
  std::vector<std::pair<std::string, std::string>> headers;  // must include "host"
};

// Percent-encodes per RFC 3986 unreserved set (A-Z a-z 0-9 - _ . ~), as S3 and
// OSS require; '/' is kept when encode_slash is false.
std::string uri_encode(std::string_view s, bool encode_slash);

namespace sigv4 {
// Canonical request; *signed_headers receives "host;range;x-amz-date" style list.
// Every header in r.headers is signed (the transport adds unsigned ones later).
std::string canonical_request(const SignRequest& r, std::string_view payload_hash, std::string* signed_headers);
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request);
// Raw (binary) signing key: HMAC chain from "AWS4" + secret.
std::string signing_key(const Secret& secret, std::string_view date, std::string_view region,
                        std::string_view service);
// Lower-case hex HMAC-SHA256(signing_key, string_to_sign).
std::string signature(std::string_view signing_key, std::string_view string_to_sign);
// Adds x-amz-date, x-amz-content-sha256 (= payload_hash), x-amz-security-token
// (if any) and Authorization. payload_hash may be "UNSIGNED-PAYLOAD".
void sign(SignRequest& r, const Credentials& c, std::string_view region, std::string_view service, std::time_t now,
          std::string_view payload_hash);
}  // namespace sigv4

namespace sigv2 {
// S3 V2 canonicalized resource: "/bucket/key" plus the S3 sub-resources present
// in the query (acl, uploads, uploadId, partNumber, ...), sorted.
std::string canonical_resource(std::string_view bucket, std::string_view key_encoded,
                               const std::vector<QueryParam>& query);
std::string string_to_sign(const SignRequest& r, std::string_view canonical_resource);
std::string signature(const Secret& secret, std::string_view string_to_sign);  // base64 HMAC-SHA1
// Adds Date (if absent), x-amz-security-token (if any) and "Authorization: AWS ak:sig".
void sign(SignRequest& r, const Credentials& c, std::string_view canonical_resource, std::time_t now);
}  // namespace sigv2

namespace oss_v1 {
// "/bucket/key" plus the OSS sub-resources present (uploads, uploadId,
// partNumber, acl, ...), sorted; the key is NOT percent-encoded here.
std::string canonical_resource(std::string_view bucket, std::string_view key,
                               const std::vector<QueryParam>& query);
// VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedOSSHeaders CanonicalizedResource
std::string string_to_sign(const SignRequest& r, std::string_view canonical_resource);
std::string signature(const Secret& secret, std::string_view string_to_sign);  // base64 HMAC-SHA1
// Adds Date (if absent), x-oss-security-token (if any), "Authorization: OSS ak:sig".
void sign(SignRequest& r, const Credentials& c, std::string_view canonical_resource, std::time_t now);
}  // namespace oss_v1

namespace oss_v4 {
// "/bucket/key" with the key percent-encoded ('/' kept), "/bucket/" for a
// bucket request, "/" with no bucket: the canonical_uri the functions below take.
std::string canonical_uri(std::string_view bucket, std::string_view key);
// canonical URI is "/bucket/key" (percent-encoded, '/' kept) or "/bucket/".
// additional_headers: lower-case names beyond the default signed set
// (x-oss-*, content-type, content-md5) that are signed, sorted and ';'-joined.
std::string canonical_request(const SignRequest& r, std::string_view canonical_uri,
                              const std::vector<std::string>& additional_headers);
std::string string_to_sign(std::string_view iso_datetime, std::string_view scope,
                           std::string_view canonical_request);
std::string signing_key(const Secret& secret, std::string_view date, std::string_view region);
std::string signature(std::string_view signing_key, std::string_view string_to_sign);
// Adds x-oss-date, x-oss-content-sha256 (UNSIGNED-PAYLOAD), x-oss-security-token
// (if any), Authorization "OSS4-HMAC-SHA256 Credential=...,AdditionalHeaders=...,Signature=...".
void sign(SignRequest& r, const Credentials& c, std::string_view region, std::string_view canonical_uri,
          const std::vector<std::string>& additional_headers, std::time_t now);
}  // namespace oss_v4

}  // namespace bucketfs::sign
