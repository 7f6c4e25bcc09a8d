// acs_rpc.cpp - see acs_rpc.hpp.
#include "bucketfs/sign/acs_rpc.hpp"

#include <algorithm>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/digest.hpp"

namespace bucketfs::sign::acs_rpc {

std::string canonicalized_query(const Params& params) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(params.size());
  for (const auto& [n, v] : params) enc.emplace_back(uri_encode(n, true), uri_encode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [n, v] : enc) {
    if (!out.empty()) out += '&';
    out += n + "=" + v;
  }
  return out;
}

std::string string_to_sign(std::string_view method, const Params& params) {
  std::string out(method);
  out += "&%2F&";
  out += uri_encode(canonicalized_query(params), true);
  return out;
}

std::string signature(const Secret& secret, std::string_view string_to_sign) {
  std::string key(secret.reveal());
  key += '&';
  std::string sig = crypto::base64(crypto::hmac_sha1(key, string_to_sign));
  std::fill(key.begin(), key.end(), '\0');
  return sig;
}

}  // namespace bucketfs::sign::acs_rpc
