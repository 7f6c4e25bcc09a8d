// env.hpp - how the credential code reads the environment: through a lookup
// function, so that tests pass their own variables.
#pragma once

#include <functional>
#include <string>

namespace bucketfs::creds {

// Reads an environment variable; nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;

// The process environment (std::getenv).
EnvLookup process_env();

// The variable's value with surrounding whitespace removed; "" when unset.
std::string env_value(const EnvLookup& env, const char* name);

// "true" / "1" / "yes" (any case) -> true; anything else false.
bool env_true(const EnvLookup& env, const char* name);

}  // namespace bucketfs::creds
