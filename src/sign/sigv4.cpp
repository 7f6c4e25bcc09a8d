// sigv4.cpp - AWS Signature Version 4 (header-based, single chunk), as S3
// defines it in "Signature Calculations for the Authorization Header".
//
// The path is taken as sent (S3 does not normalise or double-encode it); the
// query is canonicalised from the raw parameters.
#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/time.hpp"
#include "internal.hpp"

namespace bucketfs::sign::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";

}  // namespace

std::string canonical_request(const SignRequest& r, std::string_view payload_hash, std::string* signed_headers) {
  auto headers = detail::grouped_headers(
      r.headers, [](const std::string&) { return true; }, true);
  std::string names;
  for (const auto& h : headers) {
    if (!names.empty()) names += ';';
    names += h.first;
  }
  // A bare sub-resource is "name=".
  std::string out =
      detail::v4_canonical_request(r.method, r.path.empty() ? std::string_view("/") : std::string_view(r.path),
                                   detail::v4_canonical_query(r.query, true), headers, names, payload_hash);
  if (signed_headers) *signed_headers = std::move(names);
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  return detail::v4_string_to_sign(kAlgorithm, amz_date, scope, canonical_request);
}

std::string signing_key(const Secret& secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  return detail::derive_key("AWS4", secret, {date, region, service, kTerminator});
}

std::string signature(std::string_view signing_key, std::string_view string_to_sign) {
  return detail::v4_signature(signing_key, string_to_sign);
}

void sign(SignRequest& r, const Credentials& c, std::string_view region, std::string_view service, std::time_t now,
          std::string_view payload_hash) {
  const std::string amz_date = timefmt::amz_date(now);
  const std::string date = timefmt::short_date(now);
  detail::set_v4_headers(r, c, "x-amz-", amz_date, payload_hash);
  const std::string scope = detail::v4_scope(date, region, service, kTerminator);

  std::string signed_headers;
  std::string creq = canonical_request(r, payload_hash, &signed_headers);
  std::string sts = string_to_sign(amz_date, scope, creq);
  std::string key = signing_key(c.secret, date, region, service);
  std::string sig = signature(key, sts);
  secure_wipe(key);  // a derived key signs any request of that day and region

  std::string auth = detail::v4_credential(kAlgorithm, c.access_key_id, scope);
  auth += ", SignedHeaders=";
  auth += signed_headers;
  auth += ", Signature=";
  auth += sig;
  r.headers.emplace_back("Authorization", std::move(auth));
}

}  // namespace bucketfs::sign::sigv4
