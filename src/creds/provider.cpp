// provider.cpp - StaticProvider and the refresh machinery (see provider.hpp).
//
// Lock order: fetch_mu_ (held across a fetch) before notify_mu_ (held while
// listeners run, one notification at a time) before mu_ (held briefly, never
// across a fetch or a listener call).
#include "bucketfs/creds/provider.hpp"

#include <algorithm>
#include <random>

#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::creds {

namespace {

double unit_random() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

}  // namespace

std::time_t refresh_time(std::time_t fetched, std::time_t expires, const RefreshPolicy& p, double unit_random) {
  const double lifetime = std::max<double>(0, static_cast<double>(expires - fetched));
  const double ahead = std::min(static_cast<double>(p.max_ahead.count()), lifetime * p.ahead_fraction);
  const double jitter = ahead * p.jitter_fraction * unit_random;
  const auto at = static_cast<std::time_t>(static_cast<double>(expires) - ahead - jitter);
  return std::max(fetched, at);
}

StaticProvider::StaticProvider(sign::Credentials credentials, std::string source, std::string kind) {
  state_.temporary = !credentials.session_token.empty();
  credentials_ = std::make_shared<const sign::Credentials>(std::move(credentials));
  state_.source = std::move(source);
  state_.kind = std::move(kind);
  state_.usable = true;
  state_.refreshed_at = std::time(nullptr);
}

Result<CredentialProvider::Current, std::string> StaticProvider::current() {
  return Current{credentials_, 0, state_.temporary};
}

RefreshingProvider::RefreshingProvider(std::unique_ptr<Source> source, Issued first, RefreshPolicy policy,
                                       Clock clock)
    : source_(std::move(source)), policy_(policy), clock_(std::move(clock)) {
  state_.source = source_->describe();
  state_.kind = source_->kind();
  std::lock_guard lock(mu_);
  install(std::move(first), now());
}

RefreshingProvider::~RefreshingProvider() { stop(); }

void RefreshingProvider::install(Issued issued, std::time_t t) {
  state_.temporary = !issued.credentials.session_token.empty() || issued.expiration.has_value();
  credentials_ = std::make_shared<const sign::Credentials>(std::move(issued.credentials));
  ++generation_;
  state_.expiration = issued.expiration;
  state_.refreshed_at = t;
  state_.usable = true;
  state_.last_error.clear();
  state_.failing_since = 0;
  retry_delay_ = std::chrono::seconds(0);
  state_.next_refresh = issued.expiration ? refresh_time(t, *issued.expiration, policy_, unit_random()) : 0;
}

Result<CredentialProvider::Current, std::string> RefreshingProvider::current() {
  std::lock_guard lock(mu_);
  const std::time_t t = now();
  if (state_.expiration && t >= *state_.expiration - policy_.expiry_margin.count()) {
    state_.usable = false;
    std::string why =
        "the temporary credentials from " + state_.source + " expired at " + format_timestamp(*state_.expiration);
    if (!state_.last_error.empty())
      why += "; refreshing them has failed since " + format_timestamp(state_.failing_since) + ": " +
             state_.last_error;
    return why;
  }
  return Current{credentials_, generation_, state_.temporary};
}

bool RefreshingProvider::refresh_rejected(uint64_t generation) {
  std::lock_guard fetch(fetch_mu_);
  {
    std::lock_guard lock(mu_);
    if (generation_ != generation) return true;  // another thread refreshed meanwhile
    const std::time_t t = now();
    if (last_forced_ != 0 && t - last_forced_ < policy_.forced_min_interval.count()) return false;
    last_forced_ = t;
  }
  LOG_INFO("the server refused the credentials from " << state().source << "; fetching new ones");
  fetch_locked();
  std::lock_guard lock(mu_);
  return generation_ != generation;
}

bool RefreshingProvider::refresh_now() {
  std::lock_guard fetch(fetch_mu_);
  return fetch_locked();
}

bool RefreshingProvider::fetch_locked() {
  auto r = source_->fetch();
  bool ok = false;
  std::string error;
  std::optional<std::time_t> expiration;
  bool expired = false;
  {
    std::lock_guard lock(mu_);
    const std::time_t t = now();
    if (r && r->expiration && *r->expiration <= t + policy_.expiry_margin.count()) {
      error = state_.source + " returned credentials that expire at " + format_timestamp(*r->expiration) +
              ", which is not in the future (check the clock of this machine and of the service)";
    } else if (r) {
      install(std::move(r.value()), t);
      ++state_.refreshes;
      ok = true;
    } else {
      error = r.error();
    }
    if (!ok) {
      ++state_.refresh_failures;
      state_.last_error = error;
      if (state_.failing_since == 0) state_.failing_since = t;
      retry_delay_ = std::clamp(retry_delay_ * 2, policy_.retry_min, policy_.retry_max);
      state_.next_refresh = t + retry_delay_.count();
      if (state_.expiration && t >= *state_.expiration - policy_.expiry_margin.count()) state_.usable = false;
    }
    expiration = state_.expiration;
    expired = !state_.usable;
  }
  if (ok) {
    LOG_INFO("credentials refreshed from "
             << state().source << (expiration ? "; valid until " + format_timestamp(*expiration) : ""));
  } else if (expired) {
    LOG_WARN("refreshing credentials failed: " << error << "; the credentials have expired: uploads wait until a "
                                               << "refresh succeeds (retrying in " << retry_delay_.count()
                                               << " s)");
  } else {
    LOG_WARN("refreshing credentials failed: " << error << "; the current ones stay valid until "
                                               << (expiration ? format_timestamp(*expiration) : std::string("?"))
                                               << " (retrying in " << retry_delay_.count() << " s)");
  }
  notify();
  return ok;
}

ProviderState RefreshingProvider::state() const {
  std::lock_guard lock(mu_);
  ProviderState s = state_;
  if (s.expiration && now() >= *s.expiration - policy_.expiry_margin.count()) s.usable = false;
  return s;
}

void RefreshingProvider::add_listener(Listener l) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(l));
}

void RefreshingProvider::notify() {
  cv_.notify_all();  // the refresher recomputes its next wake-up
  std::lock_guard one_at_a_time(notify_mu_);
  std::vector<Listener> ls;
  {
    std::lock_guard lock(mu_);
    ls = listeners_;
  }
  ProviderState s = state();
  for (auto& l : ls) l(s);
}

void RefreshingProvider::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void RefreshingProvider::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RefreshingProvider::loop() {
  std::unique_lock lock(mu_);
  bool announced_expiry = false;
  while (!stopping_) {
    const std::time_t t = now();
    const std::time_t expiry =
        state_.expiration ? *state_.expiration - policy_.expiry_margin.count() : static_cast<std::time_t>(0);
    if (state_.expiration && t >= expiry && !announced_expiry) {
      // Tell the listeners (status, waiting uploads) that nothing can be signed now.
      announced_expiry = true;
      state_.usable = false;
      lock.unlock();
      notify();
      lock.lock();
      continue;
    }
    if (state_.next_refresh != 0 && t >= state_.next_refresh) {
      lock.unlock();
      bool ok = refresh_now();
      lock.lock();
      if (ok) announced_expiry = false;
      continue;
    }
    std::time_t wake = state_.next_refresh != 0 ? state_.next_refresh : t + 3600;
    if (state_.expiration && !announced_expiry) wake = std::min(wake, expiry);
    cv_.wait_for(lock, std::chrono::seconds(std::max<std::time_t>(1, wake - t)));
  }
}

}  // namespace bucketfs::creds
