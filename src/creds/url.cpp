// url.cpp - see url.hpp.
#include "url.hpp"

#include <algorithm>
#include <cctype>

namespace bucketfs::creds::detail {

Url parse_url(const std::string& url) {
  Url u;
  std::string rest = url;
  auto p = rest.find("://");
  if (p != std::string::npos) {
    u.scheme = rest.substr(0, p);
    std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    rest = rest.substr(p + 3);
  }
  auto slash = rest.find_first_of("/?");
  u.host = rest.substr(0, slash);
  if (slash != std::string::npos) u.path = rest.substr(slash);
  if (u.path.empty() || u.path[0] == '?') u.path = "/" + u.path;
  auto at = u.host.rfind('@');
  if (at != std::string::npos) u.host = u.host.substr(at + 1);
  if (!u.host.empty() && u.host[0] == '[') {
    u.hostname = u.host.substr(1, u.host.find(']') - 1);
  } else {
    u.hostname = u.host.substr(0, u.host.find(':'));
  }
  return u;
}

}  // namespace bucketfs::creds::detail
