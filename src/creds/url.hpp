// url.hpp - splitting the service URLs the credential sources call.
// Internal to src/creds/.
#pragma once

#include <string>

namespace bucketfs::creds::detail {

struct Url {
  std::string scheme = "https";
  std::string host;        // host[:port] as sent in Host ("[::1]:80" for IPv6)
  std::string path = "/";  // with the query, if any
  std::string hostname;    // without the port or brackets
};

// "http://127.0.0.1:8080/x?y" -> {http, 127.0.0.1:8080, /x?y, 127.0.0.1}.
// A missing scheme means https; a missing path "/".
Url parse_url(const std::string& url);

}  // namespace bucketfs::creds::detail
