// prefetcher.hpp - reads of one open object, with a sequential prefetch window.
//
// A read that continues where the previous one ended (or lands inside the
// buffered window) is sequential: the window doubles from the minimum up to
// the maximum and one GET fills it, so the kernel's consecutive page reads
// are served from memory. Any other read is random: it fetches exactly the
// bytes asked for and resets the window. All prefetchers of a Filesystem
// share a PrefetchBudget; when it is exhausted a read fetches only what it
// needs. Reads stop at the object's size; a 0-byte object never hits the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::fs {

// Bytes of prefetched data held by all open files. Thread-safe (atomic).
class PrefetchBudget {
 public:
  explicit PrefetchBudget(uint64_t capacity) : capacity_(capacity) {}
  // Reserves up to want bytes (0 if fewer than want are free).
  bool try_reserve(uint64_t want);
  void release(uint64_t n);
  uint64_t used() const { return used_.load(); }

 private:
  const uint64_t capacity_;
  std::atomic<uint64_t> used_{0};
};

// Not thread-safe: the owner (an open-file handle) serializes calls.
class Prefetcher {
 public:
  Prefetcher(store::ObjectStore& store, std::string key, uint64_t size, uint64_t min_window, uint64_t max_window,
             PrefetchBudget& budget);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Appends to *out up to n bytes at offset (fewer only at EOF). Returns 0 or
  // an errno (store::to_errno of the GET's error).
  int read(uint64_t offset, size_t n, std::string* out);

  uint64_t window() const { return window_; }
  uint64_t buffered() const { return buf_.size(); }
  int fetches() const { return fetches_; }

 private:
  int fetch(uint64_t offset, uint64_t length, std::string* into);
  void drop_buffer();

  store::ObjectStore& store_;
  const std::string key_;
  const uint64_t size_;
  const uint64_t min_window_;
  const uint64_t max_window_;
  PrefetchBudget& budget_;

  std::string buf_;  // bytes [buf_start_, buf_start_ + buf_.size())
  uint64_t buf_start_ = 0;
  uint64_t reserved_ = 0;     // budget held for buf_
  uint64_t next_offset_ = 0;  // where a sequential read would continue
  uint64_t window_;
  int fetches_ = 0;
};

}  // namespace bucketfs::fs
