// chain_internal.hpp - the links of the credential chains (chain.cpp runs
// them; chain_aws.cpp and chain_alibaba.cpp define them). Internal to src/creds/.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bucketfs/creds/chain.hpp"
#include "bucketfs/creds/sources.hpp"

namespace bucketfs::creds::detail {

// What one link found.
struct Step {
  enum Kind { Found, Skipped, Failed } kind = Skipped;
  std::unique_ptr<Source> source;  // Found
  std::string why;                 // Skipped: why it does not apply; Failed: the error
  // A metadata service: when it cannot be reached and the source was not
  // pinned, the chain goes on instead of failing.
  bool soft = false;

  static Step found(std::unique_ptr<Source> s, bool soft = false) {
    Step st;
    st.kind = Found;
    st.source = std::move(s);
    st.soft = soft;
    return st;
  }
  static Step skipped(std::string why) {
    Step st;
    st.why = std::move(why);
    return st;
  }
  static Step failed(std::string why) {
    Step st;
    st.kind = Failed;
    st.why = std::move(why);
    return st;
  }
};

struct Link {
  const char* kind;
  std::function<Step(const ChainOptions&)> step;
};

// In chain order.
std::vector<Link> aws_links();
std::vector<Link> alibaba_links();

// Shared links (chain.cpp).
Step env_keys_step(const ChainOptions& o, const char* id, const char* secret, const char* token);
Step passwd_step(const ChainOptions& o);
Step process_option_step(const ChainOptions& o);

// Whether an error comes from a service that did not answer at all.
bool unreachable(const std::string& error);

}  // namespace bucketfs::creds::detail
