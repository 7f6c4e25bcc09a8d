// sigv4.cpp - AWS Signature Version 4 (header-based, single chunk), as S3
// defines it in "Signature Calculations for the Authorization Header".
//
// The path is taken as sent (S3 does not normalise or double-encode it); the
// query is canonicalised from the raw parameters.
#include <algorithm>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/time.hpp"
#include "internal.hpp"

namespace bucketfs::sign::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string canonical_query(const std::vector<QueryParam>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& q : query) enc.emplace_back(uri_encode(q.name, true), uri_encode(q.value, true));
  std::sort(enc.begin(), enc.end());  // by encoded name, then encoded value
  std::string out;
  for (const auto& [n, v] : enc) {
    if (!out.empty()) out += '&';
    out += n;
    out += '=';  // a bare sub-resource is "name="
    out += v;
  }
  return out;
}

}  // namespace

std::string canonical_request(const SignRequest& r, std::string_view payload_hash, std::string* signed_headers) {
  auto headers = detail::grouped_headers(
      r.headers, [](const std::string&) { return true; }, true);
  std::string canon_headers, names;
  for (const auto& [n, v] : headers) {
    canon_headers += n;
    canon_headers += ':';
    canon_headers += v;
    canon_headers += '\n';
    if (!names.empty()) names += ';';
    names += n;
  }
  std::string out;
  out += r.method;
  out += '\n';
  out += r.path.empty() ? std::string("/") : r.path;
  out += '\n';
  out += canonical_query(r.query);
  out += '\n';
  out += canon_headers;
  out += '\n';
  out += names;
  out += '\n';
  out += payload_hash;
  if (signed_headers) *signed_headers = std::move(names);
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  return detail::v4_string_to_sign(kAlgorithm, amz_date, scope, canonical_request);
}

std::string signing_key(const Secret& secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  return detail::derive_key("AWS4", secret, {date, region, service, "aws4_request"});
}

std::string signature(std::string_view signing_key, std::string_view string_to_sign) {
  return crypto::hex(crypto::hmac_sha256(signing_key, string_to_sign));
}

void sign(SignRequest& r, const Credentials& c, std::string_view region, std::string_view service, std::time_t now,
          std::string_view payload_hash) {
  const std::string amz_date = timefmt::amz_date(now);
  const std::string date = timefmt::short_date(now);
  detail::set_v4_headers(r, c, "x-amz-", amz_date, payload_hash);

  std::string scope = date;
  scope += '/';
  scope += region;
  scope += '/';
  scope += service;
  scope += "/aws4_request";

  std::string signed_headers;
  std::string creq = canonical_request(r, payload_hash, &signed_headers);
  std::string sts = string_to_sign(amz_date, scope, creq);
  std::string key = signing_key(c.secret, date, region, service);
  std::string sig = signature(key, sts);
  secure_wipe(key);  // a derived key signs any request of that day and region

  std::string auth(kAlgorithm);
  auth += " Credential=";
  auth += c.access_key_id;
  auth += '/';
  auth += scope;
  auth += ", SignedHeaders=";
  auth += signed_headers;
  auth += ", Signature=";
  auth += sig;
  r.headers.emplace_back("Authorization", std::move(auth));
}

}  // namespace bucketfs::sign::sigv4
