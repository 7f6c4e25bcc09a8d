// metrics.hpp - counters, gauges and histograms for the Prometheus endpoint.
//
// A Registry owns every metric; the layers that count get a Registry* in
// their configuration (nullptr: nothing is counted) and look their metrics up
// by name and labels. A metric's address never changes once created, so a hot
// path may keep the reference. Counting is one relaxed atomic add; looking a
// metric up takes the registry's mutex (a map lookup).
//
// render() writes the Prometheus text exposition format (version 0.0.4):
// "# HELP", "# TYPE", one sample per line, histograms as cumulative
// _bucket{le=...}, _sum and _count. Collectors run first: they set the gauges
// whose value is computed at scrape time (pending files, staging space).
//
// Errors: asking for an existing name with another type is a programming
// error (asserted in debug builds; the first type wins otherwise).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bucketfs::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  // bounds: the upper bounds of the buckets, ascending (+Inf is implied).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts, the +Inf bucket last.
  std::vector<uint64_t> counts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from 1 ms to 2 min.
const std::vector<double>& latency_buckets();

class Registry {
 public:
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels,
                       const std::vector<double>& bounds);

  // Runs at every render(), before the samples are written (outside the
  // registry's mutex: a collector may create and set metrics).
  void add_collector(std::function<void(Registry&)> collect);

  std::string render();

 private:
  enum class Type { Counter, Gauge, Histogram };
  struct Family {
    std::string help;
    Type type = Type::Counter;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(std::string_view name, std::string_view help, Type type);  // under mu_

  std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::mutex collect_mu_;  // collectors run one render at a time
  std::vector<std::function<void(Registry&)>> collectors_;
};

// A label value as the text format writes it (\\, \" and \n escaped).
std::string escape_label_value(std::string_view v);

}  // namespace bucketfs::metrics
