// state_plan.hpp - choosing crash states from a history and shrinking failing
// ones.
//
// Crash points are sampled (seeded) from the positions after the workload
// started, weighted towards the positions right after a sync, an xattr
// change, a namespace change or an event (a FUSE answer, a bucket change),
// where the order of durable effects matters most; the end of the trace is
// always one. At each point the states come in this order until the point's
// share of the budget is spent: everything persisted (what a process crash
// leaves), nothing un-synced persisted, each single operation lost (sampled
// when there are many), then random combinations. Equal states (same files,
// same bucket, same answered requests) are checked once.
//
// Shrinking finds, for a failing state, a smallest set of lost operations
// that still fails the same way (the same violation kind on the same key):
// per Posix stream the shortest lost suffix, the longest Journal metadata
// prefix, and a minimal set of lost data blocks (delta debugging).
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "bucket_replay.hpp"
#include "crash_model.hpp"
#include "expectations.hpp"

namespace crash {

// Everything a crash point needs: the model's durable state, the
// expectations and the bucket, moved forward together.
class Timeline {
 public:
  Timeline(const History& h, Model m, uint64_t min_part_size);
  void advance(size_t point);
  const Sweeper& sweeper() const { return sweeper_; }
  const Expectations& expectations() const { return exp_; }
  const BucketReplay& bucket() const { return bucket_; }
  // The last few FUSE events before the point, for reports.
  std::vector<std::string> recent_requests(size_t n = 4) const;
  // Identifies a state for de-duplication.
  uint64_t state_key(const FsState& st) const;

 private:
  const History& h_;
  Sweeper sweeper_;
  Expectations exp_;
  BucketReplay bucket_;
  size_t events_ = 0;  // ops applied to exp_/bucket_
};

// Up to `count` crash points in increasing order (always the last one).
std::vector<size_t> plan_points(const History& h, size_t count, std::mt19937_64& rng);

// The candidate specs at the timeline's point, in checking order (lazy: the
// random ones are drawn on demand).
class SpecSource {
 public:
  SpecSource(const Sweeper& sw, std::mt19937_64& rng);
  bool next(StateSpec* out);

 private:
  const Sweeper& sw_;
  std::mt19937_64& rng_;
  std::vector<StateSpec> fixed_;
  size_t pos_ = 0;
  int randoms_ = 0;
};

// Smallest loss that keeps `fails` true (at most `budget` calls of fails).
StateSpec shrink(const Sweeper& sw, StateSpec spec, const std::function<bool(const StateSpec&)>& fails,
                 int budget);

}  // namespace crash
