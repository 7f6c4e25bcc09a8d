// metrics.cpp - see metrics.hpp.
#include "bucketfs/util/metrics.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "bucketfs/util/text.hpp"

namespace bucketfs::metrics {

namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  // Integers print without an exponent; others with enough digits to round-trip.
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (std::snprintf(buf, sizeof buf, "%.15g", v); std::strtod(buf, nullptr) != v)
    std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string label_text(const Labels& labels, const std::string& extra_name = "", const std::string& extra = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label_value(v) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name + "=\"" + extra + "\"";
  }
  return out + "}";
}

// HELP text escapes backslash and newline only.
std::string escape_help(std::string_view help) { return backslash_escape(help); }

void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::string escape_label_value(std::string_view v) { return backslash_escape(v, true); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,      2.5,   5,    10,    30,   60,  120};
  return kBounds;
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.type = type;
  }
  assert(it->second.type == type);
  return it->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::Counter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::Gauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, const Labels& labels,
                               const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::Histogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void Registry::add_collector(std::function<void(Registry&)> collect) {
  std::lock_guard lock(collect_mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::render() {
  {
    std::lock_guard lock(collect_mu_);
    for (auto& c : collectors_) c(*this);
  }
  std::ostringstream o;
  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    o << "# HELP " << name << " " << escape_help(f.help) << "\n";
    switch (f.type) {
      case Type::Counter:
        o << "# TYPE " << name << " counter\n";
        for (const auto& [labels, c] : f.counters) o << name << label_text(labels) << " " << c->value() << "\n";
        break;
      case Type::Gauge:
        o << "# TYPE " << name << " gauge\n";
        for (const auto& [labels, g] : f.gauges)
          o << name << label_text(labels) << " " << format_value(g->value()) << "\n";
        break;
      case Type::Histogram:
        o << "# TYPE " << name << " histogram\n";
        for (const auto& [labels, h] : f.histograms) {
          std::vector<uint64_t> counts = h->counts();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < h->bounds().size() ? format_value(h->bounds()[i]) : "+Inf";
            o << name << "_bucket" << label_text(labels, "le", le) << " " << cumulative << "\n";
          }
          o << name << "_sum" << label_text(labels) << " " << format_value(h->sum()) << "\n";
          o << name << "_count" << label_text(labels) << " " << cumulative << "\n";
        }
        break;
    }
  }
  return o.str();
}

}  // namespace bucketfs::metrics
