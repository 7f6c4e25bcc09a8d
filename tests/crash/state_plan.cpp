// state_plan.cpp - see state_plan.hpp.
#include "state_plan.hpp"

#include <algorithm>
#include <cmath>

namespace crash {
namespace {

constexpr size_t kMaxSingles = 64;  // singles tried per point before random ones
constexpr int kMaxRandom = 256;

bool significant(const Op& o) {
  switch (o.kind) {
    case Kind::SetXattr:
    case Kind::RemoveXattr:
    case Kind::Fsync:
    case Kind::Fdatasync:
    case Kind::SyncAll:
    case Kind::Rename:
    case Kind::Unlink:
    case Kind::Create:
    case Kind::Event: return true;
    default: return false;
  }
}

}  // namespace

Timeline::Timeline(const History& h, Model m, uint64_t min_part_size)
    : h_(h), sweeper_(h, m), bucket_(min_part_size) {}

void Timeline::advance(size_t point) {
  for (; events_ < point && events_ < h_.ops.size(); ++events_) {
    const Op& o = h_.ops[events_];
    if (o.kind != Kind::Event) continue;
    exp_.apply(*o.ev);
    bucket_.apply(*o.ev);
  }
  sweeper_.advance(point);
}

std::vector<std::string> Timeline::recent_requests(size_t n) const {
  std::vector<std::string> out;
  for (size_t i = events_; i-- > 0 && out.size() < n;) {
    const Op& o = h_.ops[i];
    if (o.kind != Kind::Event || o.ev->args.size() < 2 || o.ev->args[0] != "fuse") continue;
    auto f = fields(*o.ev, 2);
    std::string line = "#" + std::to_string(o.rec) + " request " + field(f, "id");
    if (o.ev->args[1] == "begin")
      line +=
          " began: " + field(f, "op") + " " + field(f, "path") + (f.count("to") ? " -> " + field(f, "to") : "");
    else
      line += " answered rc=" + field(f, "rc");
    out.push_back(line);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

uint64_t Timeline::state_key(const FsState& st) const {
  return st.hash() ^ (exp_.applied() * 0x9e3779b97f4a7c15ull) ^ (bucket_.applied() * 0xc2b2ae3d27d4eb4full);
}

std::vector<size_t> plan_points(const History& h, size_t count, std::mt19937_64& rng) {
  const size_t last = h.ops.size();
  std::vector<std::pair<double, size_t>> keyed;  // Efraimidis-Spirakis weighted sampling
  std::uniform_real_distribution<double> u(1e-12, 1.0);
  for (size_t k = h.workload_start; k < last; ++k) {
    // Right after a sync, a mark change, a namespace change or an event, and
    // right before a request begins (where a kill between requests lands).
    const bool before_request =
        h.ops[k].kind == Kind::Event && h.ops[k].ev->args.size() > 1 && h.ops[k].ev->args[1] == "begin";
    double w = ((k > 0 && significant(h.ops[k - 1])) || before_request) ? 4.0 : 1.0;
    keyed.push_back({std::pow(u(rng), 1.0 / w), k});
  }
  std::sort(keyed.begin(), keyed.end(), std::greater<>());
  std::vector<size_t> out{last};
  for (size_t i = 0; i < keyed.size() && out.size() < count; ++i) out.push_back(keyed[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

SpecSource::SpecSource(const Sweeper& sw, std::mt19937_64& rng) : sw_(sw), rng_(rng) {
  fixed_.push_back(sw.everything());
  if (sw.pending().count() == 0) return;
  fixed_.push_back(sw.nothing());
  auto singles = sw.singles();
  std::shuffle(singles.begin(), singles.end(), rng_);
  if (singles.size() > kMaxSingles) singles.resize(kMaxSingles);
  fixed_.insert(fixed_.end(), singles.begin(), singles.end());
}

bool SpecSource::next(StateSpec* out) {
  if (pos_ < fixed_.size()) {
    *out = fixed_[pos_++];
    return true;
  }
  if (sw_.pending().count() == 0 || randoms_ >= kMaxRandom) return false;
  ++randoms_;
  *out = sw_.random(rng_);
  return true;
}

StateSpec shrink(const Sweeper& sw, StateSpec spec, const std::function<bool(const StateSpec&)>& fails,
                 int budget) {
  auto attempt = [&](const StateSpec& s) { return budget-- > 0 && fails(s); };
  const Pending& p = sw.pending();
  if (spec.model == Model::Posix) {
    // Each stream: restore everything if that still fails, else the most that does.
    for (auto it = spec.keep.begin(); it != spec.keep.end();) {
      size_t n = p.streams.count(it->first) ? p.streams.at(it->first).size() : 0;
      if (it->second >= n) {
        it = spec.keep.erase(it);
        continue;
      }
      StateSpec t = spec;
      t.keep.erase(it->first);
      if (attempt(t)) {
        it = spec.keep.erase(it);
        continue;
      }
      size_t lo = it->second, hi = n;
      while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        StateSpec m = spec;
        m.keep[it->first] = mid;
        if (attempt(m))
          lo = mid;
        else
          hi = mid;
      }
      it->second = lo;
      ++it;
    }
    return spec;
  }
  if (spec.meta_keep < p.meta.size()) {
    StateSpec t = spec;
    t.meta_keep = SIZE_MAX;
    if (attempt(t)) {
      spec = t;
    } else {
      size_t lo = spec.meta_keep, hi = p.meta.size();
      while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        StateSpec m = spec;
        m.meta_keep = mid;
        if (attempt(m))
          lo = mid;
        else
          hi = mid;
      }
      spec.meta_keep = lo;
    }
  } else {
    spec.meta_keep = SIZE_MAX;
  }
  // Lost data blocks: restore halves, quarters, ... while it still fails.
  std::vector<Unit> lost(spec.dropped.begin(), spec.dropped.end());
  for (size_t chunk = std::max<size_t>(1, lost.size() / 2); !lost.empty() && budget > 0; chunk /= 2) {
    for (size_t i = 0; i < lost.size() && budget > 0;) {
      std::vector<Unit> rest(lost.begin(), lost.begin() + static_cast<long>(i));
      rest.insert(rest.end(), lost.begin() + static_cast<long>(std::min(i + chunk, lost.size())), lost.end());
      StateSpec t = spec;
      t.dropped = std::set<Unit>(rest.begin(), rest.end());
      if (attempt(t)) {
        lost = rest;
        spec = t;
      } else {
        i += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return spec;
}

}  // namespace crash
