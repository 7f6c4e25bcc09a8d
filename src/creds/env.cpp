// env.cpp - see env.hpp.
#include "bucketfs/creds/env.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "files.hpp"

namespace bucketfs::creds {

EnvLookup process_env() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

std::string env_value(const EnvLookup& env, const char* name) {
  const char* v = env ? env(name) : nullptr;
  if (v == nullptr) return {};
  return std::string(detail::trim(v));
}

bool env_true(const EnvLookup& env, const char* name) {
  std::string v = env_value(env, name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "true" || v == "1" || v == "yes";
}

}  // namespace bucketfs::creds
