// chain.cpp - runs a credential chain (see chain.hpp) and the links both
// families share: keys in the environment, passwd files, -o credential_process.
#include "bucketfs/creds/chain.hpp"

#include <algorithm>

#include "bucketfs/creds/passwd.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "chain_internal.hpp"

namespace bucketfs::creds {

namespace detail {

bool unreachable(const std::string& error) { return error.find("cannot reach ") != std::string::npos; }

Step env_keys_step(const ChainOptions& o, const char* id_name, const char* secret_name, const char* token_name) {
  std::string id = env_value(o.env, id_name);
  std::string secret = env_value(o.env, secret_name);
  if (id.empty() && secret.empty()) return Step::skipped(std::string(id_name) + " is not set");
  if (id.empty() || secret.empty()) {
    return Step::failed(std::string(id.empty() ? id_name : secret_name) + " is not set but " +
                        (id.empty() ? secret_name : id_name) + " is: set both, or neither");
  }
  sign::Credentials c;
  c.access_key_id = id;
  c.secret = Secret(secret);
  std::fill(secret.begin(), secret.end(), '\0');
  c.session_token = env_value(o.env, token_name);
  return Step::found(
      fixed_source(std::move(c), std::nullopt, std::string("environment (") + id_name + ")", "env"));
}

Step passwd_step(const ChainOptions& o) {
  sign::Credentials c;
  if (!o.passwd_file.empty()) {
    auto r = load_passwd_file(o.passwd_file, o.bucket);
    if (!r) return Step::failed(r.error());
    return Step::found(fixed_source(std::move(*r), std::nullopt, "passwd file " + o.passwd_file, "passwd_file"));
  }
  std::string path, error;
  switch (find_default_passwd(o.bucket, o.env, &c, &path, &error)) {
    case PasswdLookup::Found:
      return Step::found(fixed_source(std::move(c), std::nullopt, "passwd file " + path, "passwd_file"));
    case PasswdLookup::Error: return Step::failed(error);
    case PasswdLookup::NotFound: break;
  }
  return Step::skipped("no passwd file with a line for bucket " + o.bucket);
}

Step process_option_step(const ChainOptions& o) {
  if (o.credential_process.empty()) return Step::skipped("-o credential_process is not given");
  return Step::found(process_source({o.credential_process, "-o credential_process", std::chrono::seconds(60)}));
}

}  // namespace detail

namespace {

std::string what_to_do(Family f) {
  return f == Family::Alibaba
             ? "set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET, configure ~/.alibabacloud/credentials, or pass "
               "-o passwd_file=FILE (ACCESS:SECRET, mode 600)"
             : "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, configure a profile in ~/.aws (-o profile=NAME), "
               "or pass -o passwd_file=FILE (ACCESS:SECRET, mode 600)";
}

Result<Chosen, std::string> make_chosen(std::unique_ptr<Source> source, Issued first) {
  const std::time_t now = std::time(nullptr);
  const RefreshPolicy policy;
  if (first.expiration && *first.expiration <= now + policy.expiry_margin.count())
    return source->describe() + ": returned credentials that expired at " + format_timestamp(*first.expiration) +
           " (now " + format_timestamp(now) + "; check the clock of this machine and of the service)";
  Chosen c;
  c.description = source->describe();
  if (first.expiration) {
    c.description +=
        "; temporary, valid until " + format_timestamp(*first.expiration) + ", refreshed in the background";
    c.provider = std::make_shared<RefreshingProvider>(std::move(source), std::move(first), policy);
  } else {
    if (!first.credentials.session_token.empty()) c.description += "; with a session token";
    std::string d = source->describe(), k = source->kind();
    c.provider = std::make_shared<StaticProvider>(std::move(first.credentials), d, k);
  }
  return c;
}

// The links to run: the family's chain, or the one pinned link (looked up in
// the family's chain first, then the other family's).
Result<std::vector<detail::Link>, std::string> links_for(const ChainOptions& o) {
  std::vector<detail::Link> mine = o.family == Family::Alibaba ? detail::alibaba_links() : detail::aws_links();
  std::string pinned = o.pinned;
  if (!o.passwd_file.empty() && !o.credential_process.empty())
    return std::string("passwd_file= and credential_process= each name the only source: give one");
  // passwd_file= and credential_process= are sources of their own.
  for (auto [given, kind] :
       {std::pair{&o.passwd_file, "passwd_file"}, std::pair{&o.credential_process, "process"}}) {
    if (given->empty()) continue;
    if (!pinned.empty() && pinned != kind)
      return "credentials=" + pinned + " and " + (std::string(kind) == "process" ? "credential_process" : kind) +
             "= name different sources: give one";
    pinned = kind;
  }
  if (pinned.empty()) return mine;
  std::vector<detail::Link> other = o.family == Family::Alibaba ? detail::aws_links() : detail::alibaba_links();
  for (auto* list : {&mine, &other})
    for (auto& l : *list)
      if (l.kind == pinned) return std::vector<detail::Link>{l};
  std::string known;
  for (const auto& k : source_kinds()) known += (known.empty() ? "" : ", ") + k;
  return "credentials=" + pinned + " is not a credential source (known: " + known + ")";
}

}  // namespace

const std::vector<std::string>& source_kinds() {
  static const std::vector<std::string> kKinds = {"env",          "passwd_file",  "profile",        "process",
                                                  "web_identity", "container",    "imds",           "oidc",
                                                  "aliyun_cli",   "ecs_ram_role", "credentials_uri"};
  return kKinds;
}

Result<Chosen, std::string> choose_credentials(const ChainOptions& o) {
  auto links = links_for(o);
  if (!links) return links.error();
  const bool pinned =
      links->size() == 1 && (!o.pinned.empty() || !o.passwd_file.empty() || !o.credential_process.empty());
  std::vector<std::string> tried;
  for (auto& link : *links) {
    detail::Step step = link.step(o);
    if (step.kind == detail::Step::Failed) return step.why;
    if (step.kind == detail::Step::Skipped) {
      if (pinned) return "credentials=" + std::string(link.kind) + ": " + step.why;
      tried.push_back(std::string(link.kind) + " (" + step.why + ")");
      continue;
    }
    auto first = step.source->fetch();
    if (!first) {
      if (step.soft && !pinned && detail::unreachable(first.error())) {
        tried.push_back(std::string(link.kind) + " (" + step.source->describe() + " does not answer)");
        continue;
      }
      return first.error();
    }
    return make_chosen(std::move(step.source), std::move(first.value()));
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : "; ") + t;
  return "no credentials found for bucket " + o.bucket + " (tried: " + list + "): " + what_to_do(o.family);
}

}  // namespace bucketfs::creds
