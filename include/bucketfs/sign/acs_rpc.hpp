// acs_rpc.hpp - Alibaba Cloud RPC signature V1 (SignatureMethod HMAC-SHA1,
// SignatureVersion 1.0), as the STS AssumeRole call of a ram_role_arn profile
// needs it. Pure functions: the caller supplies the timestamp and the nonce
// among the parameters.
//
//   canonicalized = name=value pairs sorted by name, each percent-encoded
//                   (RFC 3986 unreserved set kept), joined with '&'
//   string to sign = METHOD "&" encode("/") "&" encode(canonicalized)
//   signature = base64(HMAC-SHA1(secret + "&", string to sign))
// Thread-safety: reentrant.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bucketfs/util/secret.hpp"

namespace bucketfs::sign::acs_rpc {

using Params = std::vector<std::pair<std::string, std::string>>;

std::string canonicalized_query(const Params& params);
std::string string_to_sign(std::string_view method, const Params& params);
std::string signature(const Secret& secret, std::string_view string_to_sign);

}  // namespace bucketfs::sign::acs_rpc
