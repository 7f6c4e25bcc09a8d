// env.cpp - see env.hpp.
#include "bucketfs/creds/env.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace bucketfs::creds {

EnvLookup process_env() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

std::string env_value(const EnvLookup& env, const char* name) {
  const char* v = env ? env(name) : nullptr;
  if (v == nullptr) return {};
  std::string s(v);
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool env_true(const EnvLookup& env, const char* name) {
  std::string v = env_value(env, name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "true" || v == "1" || v == "yes";
}

}  // namespace bucketfs::creds
