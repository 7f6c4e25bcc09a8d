// oss_v4.cpp - OSS Signature V4 (OSS4-HMAC-SHA256), header-based.
//
// Differences from AWS SigV4 that matter: the canonical URI always names the
// bucket; a query parameter without a value is signed as a bare name (no
// '='); only x-oss-*, content-type and content-md5 are signed by default,
// others only when listed as additional headers; the payload is UNSIGNED-PAYLOAD.
// Behaviour follows the official SDK (alibabacloud-oss-go-sdk-v2 signer/v4.go).
#include <algorithm>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/time.hpp"
#include "internal.hpp"

namespace bucketfs::sign::oss_v4 {
namespace {

constexpr std::string_view kAlgorithm = "OSS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kService = "oss";
constexpr std::string_view kTerminator = "aliyun_v4_request";

bool default_signed(const std::string& low) {
  return low.compare(0, 6, "x-oss-") == 0 || low == "content-type" || low == "content-md5";
}

// Lower-cased, sorted, unique additional header names that are not signed by
// default anyway and are present in the request (what the SDK signs).
std::vector<std::string> effective_additional(const SignRequest& r, const std::vector<std::string>& additional) {
  std::vector<std::string> out;
  for (const auto& a : additional) {
    std::string low = detail::to_lower(a);
    if (default_signed(low) || detail::header_or_empty(r.headers, low).empty()) continue;
    out.push_back(std::move(low));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string canonical_request_with(const SignRequest& r, std::string_view canonical_uri,
                                   const std::vector<std::string>& additional) {
  auto headers = detail::grouped_headers(
      r.headers,
      [&](const std::string& low) {
        return default_signed(low) || std::binary_search(additional.begin(), additional.end(), low);
      },
      false);
  std::string payload = detail::header_or_empty(r.headers, "x-oss-content-sha256");
  if (payload.empty()) payload = kUnsignedPayload;

  // A bare sub-resource is "name", without '='.
  return detail::v4_canonical_request(r.method, canonical_uri, detail::v4_canonical_query(r.query, false), headers,
                                      join(additional, ';'), payload);
}

}  // namespace

std::string canonical_uri(std::string_view bucket, std::string_view key) {
  std::string uri = "/";
  if (!bucket.empty()) {
    uri += bucket;
    uri += '/';
  }
  uri += key;
  return uri_encode(uri, false);
}

std::string canonical_request(const SignRequest& r, std::string_view canonical_uri,
                              const std::vector<std::string>& additional_headers) {
  return canonical_request_with(r, canonical_uri, effective_additional(r, additional_headers));
}

std::string string_to_sign(std::string_view iso_datetime, std::string_view scope,
                           std::string_view canonical_request) {
  return detail::v4_string_to_sign(kAlgorithm, iso_datetime, scope, canonical_request);
}

std::string signing_key(const Secret& secret, std::string_view date, std::string_view region) {
  return detail::derive_key("aliyun_v4", secret, {date, region, kService, kTerminator});
}

std::string signature(std::string_view signing_key, std::string_view string_to_sign) {
  return detail::v4_signature(signing_key, string_to_sign);
}

void sign(SignRequest& r, const Credentials& c, std::string_view region, std::string_view canonical_uri,
          const std::vector<std::string>& additional_headers, std::time_t now) {
  const std::string datetime = timefmt::amz_date(now);
  const std::string date = timefmt::short_date(now);
  detail::set_v4_headers(r, c, "x-oss-", datetime, kUnsignedPayload);
  const std::string scope = detail::v4_scope(date, region, kService, kTerminator);

  std::vector<std::string> additional = effective_additional(r, additional_headers);
  std::string sts = string_to_sign(datetime, scope, canonical_request_with(r, canonical_uri, additional));
  std::string key = signing_key(c.secret, date, region);
  std::string sig = signature(key, sts);
  secure_wipe(key);  // a derived key signs any request of that day and region

  std::string auth = detail::v4_credential(kAlgorithm, c.access_key_id, scope);
  if (!additional.empty()) {
    auth += ",AdditionalHeaders=";
    auth += join(additional, ';');
  }
  auth += ",Signature=";
  auth += sig;
  r.headers.emplace_back("Authorization", std::move(auth));
}

}  // namespace bucketfs::sign::oss_v4
