// internal.hpp - helpers shared by the signer implementations in src/sign/.
// Not a public header: nothing outside src/sign/ includes it.
#pragma once

#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bucketfs/sign/signer.hpp"

namespace bucketfs::sign::detail {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string to_lower(std::string_view s);
// Strips leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);
// trim() plus runs of inner spaces collapsed to one (SigV4 "Trimall").
std::string trim_collapse(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Value of the first header named `name` (case-insensitive), or nullptr.
const std::string* find_header(const Headers& h, std::string_view name);
// Returns the header's value or "" when absent.
std::string header_or_empty(const Headers& h, std::string_view name);
// Replaces every header named `name` (case-insensitive) by one `name: value`.
void set_header(Headers& h, std::string_view name, std::string value);
void remove_header(Headers& h, std::string_view name);

// Lower-cased names mapped to their values joined with ',' (in request order),
// sorted by name; `keep` selects which lower-cased names take part.
template <class Pred>
std::vector<std::pair<std::string, std::string>> grouped_headers(const Headers& h, Pred keep, bool collapse);

// "?a&b=c" style sub-resource suffix for the V1/V2 canonical resource: the
// parameters whose names are in `names` (sorted array) or, when `prefix` is
// not empty, start with it; raw values, sorted.
std::string subresource_suffix(const std::vector<QueryParam>& query, const std::vector<std::string_view>& names,
                               std::string_view prefix);

// The canonical resource shared by S3 V2 and OSS V1: "/bucket/key" (a
// leading '/' of key dropped; "/" alone without a bucket) plus the
// sub-resource suffix as above.
std::string legacy_canonical_resource(std::string_view bucket, std::string_view key,
                                      const std::vector<QueryParam>& query,
                                      const std::vector<std::string_view>& names, std::string_view prefix);

// The string to sign shared by S3 V2 and OSS V1:
//   VERB \n Content-MD5 \n Content-Type \n date \n <prefix headers> resource
// where <prefix headers> are the headers whose lower-cased name starts with
// `prefix` ("x-amz-" / "x-oss-"), as "name:v1,v2\n", sorted.
std::string legacy_string_to_sign(const SignRequest& r, std::string_view prefix, std::string_view date,
                                  std::string_view canonical_resource);

// The signature of S3 V2 and OSS V1: base64(HMAC-SHA1(secret, string to sign)).
std::string legacy_signature(const Secret& secret, std::string_view string_to_sign);

// Signs a request the S3 V2 / OSS V1 way: sets Date (if absent) and the
// session token header (both are signed), then adds
// "Authorization: <scheme> AK:signature" over what to_sign returns for it.
void legacy_sign(SignRequest& r, const Credentials& c, std::time_t now, std::string_view token_header,
                 std::string_view scheme, std::string (*to_sign)(const SignRequest&, std::string_view),
                 std::string_view canonical_resource);

// Each header as "name:value\n": the header block that the legacy string to
// sign and the V4 canonical request both contain.
std::string header_lines(const std::vector<std::pair<std::string, std::string>>& headers);

// The fields with sep between them: the signers' strings to sign, canonical
// requests and scopes are fields a line (or a '/') apart.
std::string join(std::initializer_list<std::string_view> fields, char sep);

// The V4 canonical query (SigV4, OSS V4): names and values percent-encoded,
// sorted by encoded name then value, '&'-joined. A parameter with an empty
// value is "name=" when equals_when_empty (SigV4), a bare "name" otherwise
// (OSS V4).
std::string v4_canonical_query(const std::vector<QueryParam>& query, bool equals_when_empty);

// The V4 canonical request (SigV4, OSS V4), one field a line:
//   method \n uri \n query \n header lines \n header list \n payload
// where the header list is SigV4's SignedHeaders or OSS V4's AdditionalHeaders.
std::string v4_canonical_request(std::string_view method, std::string_view uri, std::string_view query,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view header_list, std::string_view payload);

// The V4 credential scope "date/region/service/terminator"; the same four
// steps derive the signing key (derive_key).
std::string v4_scope(std::string_view date, std::string_view region, std::string_view service,
                     std::string_view terminator);

// The V4 signature: lower-case hex HMAC-SHA256(signing key, string to sign).
std::string v4_signature(std::string_view signing_key, std::string_view string_to_sign);

// The start of a V4 Authorization value: "<algorithm> Credential=AK/scope";
// each signer appends its own header list and signature fields.
std::string v4_credential(std::string_view algorithm, std::string_view access_key_id, std::string_view scope);

// The V4 string to sign (SigV4, OSS V4):
//   algorithm \n datetime \n scope \n hex(SHA-256(canonical request))
std::string v4_string_to_sign(std::string_view algorithm, std::string_view datetime, std::string_view scope,
                              std::string_view canonical_request);

// The first step of the V4 signers (SigV4, OSS V4): drops an old
// Authorization (a retried request is re-signed) and sets the headers named
// with prefix ("x-amz-" / "x-oss-") that are signed: date, content-sha256 and,
// with a session token, security-token.
void set_v4_headers(SignRequest& r, const Credentials& c, std::string_view prefix, const std::string& datetime,
                    std::string_view payload_hash);

// The chained HMAC-SHA256 key derivation of SigV4 and OSS V4:
// HMAC(...HMAC(HMAC(prefix + secret, steps[0]), steps[1])..., steps[n-1]).
// Every intermediate key (and the copy of the secret) is wiped before it is
// freed; the caller wipes the returned key (secure_wipe) once it has signed.
std::string derive_key(std::string_view prefix, const Secret& secret,
                       std::initializer_list<std::string_view> steps);

}  // namespace bucketfs::sign::detail

// --- template definition ---------------------------------------------------
#include <algorithm>

namespace bucketfs::sign::detail {

template <class Pred>
std::vector<std::pair<std::string, std::string>> grouped_headers(const Headers& h, Pred keep, bool collapse) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : h) {
    std::string low = to_lower(name);
    if (!keep(low)) continue;
    std::string v = collapse ? trim_collapse(value) : std::string(trim(value));
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == low; });
    if (it == out.end()) {
      out.emplace_back(std::move(low), std::move(v));
    } else {
      it->second += ',';
      it->second += v;
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace bucketfs::sign::detail
