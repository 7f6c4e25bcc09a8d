// provider.hpp - where each request's credentials come from, and how they
// stay fresh.
//
// A Source fetches credentials once (the environment, a file, a process, an
// HTTP service); it caches nothing. A CredentialProvider is what the object
// store asks before signing every request: a StaticProvider for keys that do
// not expire, a RefreshingProvider for temporary ones, which refreshes them
// in a background thread ahead of their expiry (min(max_ahead, lifetime x
// ahead_fraction), plus jitter so that many mounts do not refresh at once).
//
// When a refresh fails the provider keeps the credentials it has until they
// expire, and keeps retrying with a capped backoff; after that current()
// answers an error that says why (the source's last error), the store turns it
// into ErrorCode::CredentialsUnavailable, and uploads wait, checkpointed,
// until a refresh succeeds. Listeners hear every change (a refresh, a failed
// refresh, an expiry), e.g. to wake waiting uploads or to tell `status`.
//
// The secret never leaves a sign::Credentials (a Secret inside); describe()
// and every error message name the source, never a key.
// Thread-safety: every method of a provider may be called from any thread;
// a Source is used by one thread at a time (the provider serialises fetches).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bucketfs/sign/signer.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::creds {

// Credentials as a source issued them.
struct Issued {
  sign::Credentials credentials;
  std::optional<std::time_t> expiration;  // nullopt: they do not expire
};

class Source {
 public:
  virtual ~Source() = default;
  // For the log: "environment (AWS_ACCESS_KEY_ID)", "profile 'dev': assume
  // role arn:aws:iam::1:role/r with profile 'base'". Never a secret.
  virtual std::string describe() const = 0;
  // The short name `-o credentials=` takes and metrics use: "env", "imds", ...
  virtual std::string kind() const = 0;
  // Fetches fresh credentials; blocks on the network or a process. Error: one
  // line naming the source, what failed and what to check.
  virtual Result<Issued, std::string> fetch() = 0;
};

// What status and the metrics show of a provider.
struct ProviderState {
  std::string source;  // Source::describe()
  std::string kind;    // Source::kind()
  bool temporary = false;
  bool usable = false;                    // it has credentials that have not expired
  std::optional<std::time_t> expiration;  // of the credentials in use
  std::time_t refreshed_at = 0;           // last successful fetch
  std::time_t next_refresh = 0;           // 0: none planned
  uint64_t refreshes = 0;                 // successful refreshes after the first fetch
  uint64_t refresh_failures = 0;
  std::string last_error;         // of the last failed refresh ("" after a success)
  std::time_t failing_since = 0;  // first failure of the current run of failures; 0 when none
};

class CredentialProvider {
 public:
  struct Current {
    std::shared_ptr<const sign::Credentials> credentials;
    uint64_t generation = 0;  // changes whenever the credentials do
    bool temporary = false;   // they carry a session token / expire
  };
  using Listener = std::function<void(const ProviderState&)>;

  virtual ~CredentialProvider() = default;
  // The credentials to sign the next request with; an error line when there
  // are none that are still valid (expired, and refreshing fails).
  virtual Result<Current, std::string> current() = 0;
  // The server refused credentials of `generation` as expired or unknown.
  // Refreshes now unless another thread just did or a forced refresh ran
  // less than forced_min_interval ago; true when newer credentials are there.
  virtual bool refresh_rejected(uint64_t generation) = 0;
  virtual ProviderState state() const = 0;
  // Called (on the refresher's thread, without the provider's locks) after
  // every refresh attempt and when the credentials expire. Add before start().
  virtual void add_listener(Listener l) = 0;
  // Starts the background refresher (after the daemon's fork); stop() joins it.
  virtual void start() {}
  virtual void stop() {}
};

// Credentials that never change (keys from the environment or a file).
class StaticProvider final : public CredentialProvider {
 public:
  StaticProvider(sign::Credentials credentials, std::string source, std::string kind);
  Result<Current, std::string> current() override;
  bool refresh_rejected(uint64_t) override { return false; }
  ProviderState state() const override { return state_; }
  void add_listener(Listener) override {}

 private:
  std::shared_ptr<const sign::Credentials> credentials_;
  ProviderState state_;
};

struct RefreshPolicy {
  std::chrono::seconds max_ahead{300};  // refresh at most this long before expiry ...
  double ahead_fraction = 0.25;         // ... or this share of the lifetime, if less
  double jitter_fraction = 0.2;         // and up to this share of that earlier, at random
  std::chrono::seconds retry_min{5};    // a failed refresh is retried after 5, 10, 20 ... s
  std::chrono::seconds retry_max{60};
  std::chrono::seconds expiry_margin{5};         // credentials this close to expiry are not used
  std::chrono::seconds forced_min_interval{15};  // refresh_rejected() refreshes at most this often
};

// When to refresh credentials fetched at `fetched` that expire at `expires`;
// unit_random in [0,1) picks the jitter. Never before `fetched`.
std::time_t refresh_time(std::time_t fetched, std::time_t expires, const RefreshPolicy& p, double unit_random);

class RefreshingProvider final : public CredentialProvider {
 public:
  using Clock = std::function<std::time_t()>;
  // first: what source->fetch() returned at mount (it must have an expiration).
  RefreshingProvider(std::unique_ptr<Source> source, Issued first, RefreshPolicy policy = {},
                     Clock clock = nullptr);
  ~RefreshingProvider() override;

  Result<Current, std::string> current() override;
  bool refresh_rejected(uint64_t generation) override;
  ProviderState state() const override;
  void add_listener(Listener l) override;
  void start() override;
  void stop() override;

  // One refresh attempt now, on the calling thread (the refresher does the
  // same when one is due). True on success. For tests and forced refreshes.
  bool refresh_now();

 private:
  void install(Issued issued, std::time_t now);  // under mu_
  bool fetch_locked();                           // under fetch_mu_ (not mu_)
  void loop();
  void notify();
  std::time_t now() const { return clock_ ? clock_() : std::time(nullptr); }

  std::unique_ptr<Source> source_;
  const RefreshPolicy policy_;
  const Clock clock_;

  std::mutex fetch_mu_;   // one fetch at a time; taken before notify_mu_ and mu_
  std::mutex notify_mu_;  // listeners run one notification at a time
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const sign::Credentials> credentials_;
  uint64_t generation_ = 0;
  std::time_t last_forced_ = 0;
  std::chrono::seconds retry_delay_{0};
  ProviderState state_;
  std::vector<Listener> listeners_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bucketfs::creds
