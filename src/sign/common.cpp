// common.cpp - string and header helpers shared by the signers (internal.hpp).
#include <algorithm>
#include <cctype>

#include "bucketfs/util/digest.hpp"
#include "bucketfs/util/time.hpp"
#include "internal.hpp"

namespace bucketfs::sign::detail {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

std::string trim_collapse(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : trim(s)) {
    bool space = c == ' ' || c == '\t';
    if (space && !out.empty() && out.back() == ' ') continue;
    out.push_back(space ? ' ' : c);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const std::string* find_header(const Headers& h, std::string_view name) {
  for (const auto& [n, v] : h) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

std::string header_or_empty(const Headers& h, std::string_view name) {
  const std::string* v = find_header(h, name);
  return v ? std::string(trim(*v)) : std::string();
}

void remove_header(Headers& h, std::string_view name) {
  h.erase(std::remove_if(h.begin(), h.end(), [&](const auto& p) { return iequals(p.first, name); }), h.end());
}

void set_header(Headers& h, std::string_view name, std::string value) {
  remove_header(h, name);
  h.emplace_back(std::string(name), std::move(value));
}

std::string legacy_canonical_resource(std::string_view bucket, std::string_view key,
                                      const std::vector<QueryParam>& query,
                                      const std::vector<std::string_view>& names, std::string_view prefix) {
  if (!key.empty() && key.front() == '/') key.remove_prefix(1);
  std::string out = "/";
  if (!bucket.empty()) {
    out += bucket;
    out += '/';
    out += key;
  }
  out += subresource_suffix(query, names, prefix);
  return out;
}

std::string subresource_suffix(const std::vector<QueryParam>& query, const std::vector<std::string_view>& names,
                               std::string_view prefix) {
  std::vector<const QueryParam*> picked;
  for (const auto& q : query) {
    bool named = std::binary_search(names.begin(), names.end(), std::string_view(q.name));
    if (named || (!prefix.empty() && q.name.compare(0, prefix.size(), prefix) == 0)) picked.push_back(&q);
  }
  std::stable_sort(picked.begin(), picked.end(), [](const QueryParam* a, const QueryParam* b) {
    return a->name != b->name ? a->name < b->name : a->value < b->value;
  });
  std::string out;
  for (const QueryParam* q : picked) {
    out += out.empty() ? '?' : '&';
    out += q->name;
    // Sub-resource values are signed raw (not percent-encoded), per both specs.
    if (q->has_value && !q->value.empty()) {
      out += '=';
      out += q->value;
    }
  }
  return out;
}

std::string legacy_string_to_sign(const SignRequest& r, std::string_view prefix, std::string_view date,
                                  std::string_view canonical_resource) {
  auto vendor = grouped_headers(
      r.headers, [&](const std::string& low) { return low.compare(0, prefix.size(), prefix) == 0; }, false);
  // The vendor header lines end in '\n' themselves, the resource follows them.
  return join({r.method, header_or_empty(r.headers, "content-md5"), header_or_empty(r.headers, "content-type"),
               date, header_lines(vendor) + std::string(canonical_resource)},
              '\n');
}

std::string header_lines(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [n, v] : headers) {
    out += n;
    out += ':';
    out += v;
    out += '\n';
  }
  return out;
}

std::string join(std::initializer_list<std::string_view> fields, char sep) {
  std::string out;
  for (const std::string_view& f : fields) {
    if (&f != fields.begin()) out += sep;
    out += f;
  }
  return out;
}

std::string v4_canonical_query(const std::vector<QueryParam>& query, bool equals_when_empty) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& q : query) enc.emplace_back(uri_encode(q.name, true), uri_encode(q.value, true));
  std::sort(enc.begin(), enc.end());  // by encoded name, then encoded value
  std::string out;
  for (const auto& [n, v] : enc) {
    if (!out.empty()) out += '&';
    out += n;
    if (equals_when_empty || !v.empty()) {
      out += '=';
      out += v;
    }
  }
  return out;
}

std::string v4_canonical_request(std::string_view method, std::string_view uri, std::string_view query,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view header_list, std::string_view payload) {
  return join({method, uri, query, header_lines(headers), header_list, payload}, '\n');
}

std::string v4_scope(std::string_view date, std::string_view region, std::string_view service,
                     std::string_view terminator) {
  return join({date, region, service, terminator}, '/');
}

std::string v4_signature(std::string_view signing_key, std::string_view string_to_sign) {
  return crypto::hex(crypto::hmac_sha256(signing_key, string_to_sign));
}

std::string v4_credential(std::string_view algorithm, std::string_view access_key_id, std::string_view scope) {
  std::string out(algorithm);
  out += " Credential=";
  out += access_key_id;
  out += '/';
  out += scope;
  return out;
}

std::string derive_key(std::string_view prefix, const Secret& secret,
                       std::initializer_list<std::string_view> steps) {
  std::string key;
  key.reserve(prefix.size() + secret.reveal().size());  // one buffer: no unwiped copy left by a regrowth
  key += prefix;
  key += secret.reveal();
  for (std::string_view step : steps) {
    std::string next = crypto::hmac_sha256(key, step);
    secure_wipe(key);
    key.swap(next);  // next now holds the wiped buffer
  }
  return key;
}

std::string v4_string_to_sign(std::string_view algorithm, std::string_view datetime, std::string_view scope,
                              std::string_view canonical_request) {
  return join({algorithm, datetime, scope, crypto::hex(crypto::sha256(canonical_request))}, '\n');
}

void set_v4_headers(SignRequest& r, const Credentials& c, std::string_view prefix, const std::string& datetime,
                    std::string_view payload_hash) {
  const std::string p(prefix);
  remove_header(r.headers, "authorization");
  set_header(r.headers, p + "date", datetime);
  set_header(r.headers, p + "content-sha256", std::string(payload_hash));
  if (!c.session_token.empty()) set_header(r.headers, p + "security-token", c.session_token);
}

std::string legacy_signature(const Secret& secret, std::string_view string_to_sign) {
  return crypto::base64(crypto::hmac_sha1(secret.reveal(), string_to_sign));
}

void legacy_sign(SignRequest& r, const Credentials& c, std::time_t now, std::string_view token_header,
                 std::string_view scheme, std::string (*to_sign)(const SignRequest&, std::string_view),
                 std::string_view canonical_resource) {
  remove_header(r.headers, "authorization");
  if (!find_header(r.headers, "date")) r.headers.emplace_back("Date", timefmt::http_date(now));
  if (!c.session_token.empty()) set_header(r.headers, std::string(token_header), c.session_token);
  std::string auth(scheme);
  auth += ' ';
  auth += c.access_key_id;
  auth += ':';
  auth += legacy_signature(c.secret, to_sign(r, canonical_resource));
  r.headers.emplace_back("Authorization", std::move(auth));
}

}  // namespace bucketfs::sign::detail
