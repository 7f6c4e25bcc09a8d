// test_prefetcher.cpp - fs::Prefetcher over MemoryObjectStore (and
// FaultyObjectStore): the sequential stream, random reads that must not start
// it, errors of a background fill, the shared budget, an object that shrank,
// closing while the stream threads are fetching, and two GETs in flight for a
// reader faster than one connection.
//
// C++ objects live in the fixture state so a failing assertion (longjmp)
// skips no destructor that matters.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "bucketfs/fs/prefetcher.hpp"
#include "bucketfs/store/faulty_object_store.hpp"
#include "bucketfs/store/memory_object_store.hpp"

extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// After expect(want), holds each GET until `want` of them are in flight at
// once (then lets every GET through), or 5 s passed: a prefetcher that never
// overlaps two GETs fails the test instead of hanging it. Records the most
// GETs seen in flight.
class OverlapStore : public store::FaultyObjectStore {
 public:
  using FaultyObjectStore::FaultyObjectStore;
  void expect(int want) {
    std::lock_guard lk(mu_);
    want_ = want;
    max_ = 0;
  }
  int max_in_flight() {
    std::lock_guard lk(mu_);
    return max_;
  }
  // Every chunk of every GET from now on arrives this much later: a slow link.
  void slow(std::chrono::milliseconds per_chunk) { per_chunk_ms_ = static_cast<int>(per_chunk.count()); }
  // The GET that starts at offset returns this much after its last byte
  // arrived (its window stays Filling meanwhile).
  void linger_at(uint64_t offset, std::chrono::milliseconds after) {
    linger_offset_ = offset;
    linger_ms_ = static_cast<int>(after.count());
  }
  store::StoreResult<uint64_t> get(const std::string& key, uint64_t offset, uint64_t length,
                                   const store::ByteSink& sink) override {
    {
      std::unique_lock lk(mu_);
      max_ = std::max(max_, ++in_flight_);
      if (in_flight_ >= want_) want_ = 1;  // seen: the gate opens for good
      cv_.notify_all();
      cv_.wait_for(lk, std::chrono::seconds(5), [&] { return in_flight_ >= want_; });
    }
    int delay = per_chunk_ms_.load();
    auto r = FaultyObjectStore::get(key, offset, length, [&](const char* d, size_t n) {
      if (delay) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      return sink(d, n);
    });
    if (offset == linger_offset_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(linger_ms_.load()));
    std::lock_guard lk(mu_);
    --in_flight_;
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int want_ = 1;
  int in_flight_ = 0;
  int max_ = 0;
  std::atomic<int> per_chunk_ms_{0};
  std::atomic<uint64_t> linger_offset_{UINT64_MAX};
  std::atomic<int> linger_ms_{0};
};

struct State {
  store::MemoryObjectStore mem;
  OverlapStore faulty{mem};
  fs::PrefetchBudget budget{256 * kMiB};
  std::unique_ptr<fs::PrefetchBudget> small_budget;
  std::unique_ptr<fs::Prefetcher> pf;
  std::string data;
  std::string got;
};

State* st(void** state) { return static_cast<State*>(*state); }

int setup(void** state) {
  auto* s = new State;
  s->data.resize(40 * kMiB + 12345);
  std::mt19937_64 rng(11);
  for (size_t i = 0; i + 8 <= s->data.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&s->data[i], &v, 8);
  }
  s->mem.put_object("obj", s->data);
  *state = s;
  return 0;
}

int teardown(void** state) {
  delete st(state);
  return 0;
}

void open_pf(State* s, uint64_t size, uint64_t min_w, uint64_t max_w, fs::PrefetchBudget& budget) {
  s->pf.reset();
  s->pf = std::make_unique<fs::Prefetcher>(s->faulty, "obj", size, min_w, max_w, budget);
  s->mem.reset_counters();
}

// One read through the zero-copy interface; the bytes land in s->got.
int read_at(State* s, uint64_t off, size_t n) {
  s->got.clear();
  int calls = 0;
  int rc = s->pf->read(off, n, [&](const char* d, size_t len) {
    ++calls;
    s->got.assign(d, len);
  });
  if (rc == 0 && calls != 1) return -1;  // delivered exactly once on success
  if (rc != 0 && calls != 0) return -2;  // never on error
  return rc;
}

// A whole-object sequential read in 1 MiB steps fetches each byte once, in
// windows that double from 1 MiB to 8 MiB: 1 + 2 + 4 + 8 * 4 = 39 MiB, then
// the rest; at most one window is fetched beyond what was read.
void test_sequential_stream(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 8 * kMiB, s->budget);
  std::string all;
  for (uint64_t off = 0; off < s->data.size(); off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    all += s->got;
  }
  assert_int_equal(all.size(), s->data.size());
  assert_true(all == s->data);
  assert_int_equal(s->mem.calls("get"), 8);  // 1, 2, 4, 8, 8, 8, 8, the rest
  // Past the end: an empty read, delivered once, no GET.
  assert_int_equal(read_at(s, s->data.size(), 4096), 0);
  assert_int_equal(s->got.size(), 0);
  assert_int_equal(s->mem.calls("get"), 8);
  s->pf.reset();
  assert_int_equal(s->budget.used(), 0);  // every window given back
}

// Reads of odd sizes that straddle window boundaries still get every byte.
void test_straddling_reads(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 4 * kMiB, s->budget);
  std::string all;
  const size_t step = 777777;
  for (uint64_t off = 0; off < s->data.size(); off += step) {
    assert_int_equal(read_at(s, off, step), 0);
    all += s->got;
  }
  assert_true(all == s->data);
}

// The kernel splits a random 1 MiB read into 128 KiB and the rest: that must
// cost two GETs and no stream running ahead.
void test_random_reads_start_no_stream(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 64 * kMiB, s->budget);
  std::mt19937 rng(3);
  const int n = 20;
  for (int i = 0; i < n; ++i) {
    uint64_t off = (rng() % 39) * kMiB + 4096 * (rng() % 200);
    assert_int_equal(read_at(s, off, 128 * 1024), 0);
    assert_true(s->got == s->data.substr(off, 128 * 1024));
    assert_int_equal(read_at(s, off + 128 * 1024, 896 * 1024), 0);
    assert_true(s->got == s->data.substr(off + 128 * 1024, 896 * 1024));
  }
  assert_true(s->mem.calls("get") <= 2 * n);  // fewer when a read lands in the last window
}

// A failed background GET fails the read that waits for its bytes (which of
// the two windows in flight it was is up to the threads); the same read
// again starts the stream again and succeeds.
void test_stream_error_then_recovery(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 8 * kMiB, s->budget);
  assert_int_equal(read_at(s, 0, kMiB), 0);  // the first window, filled by the reader
  s->faulty.fail_next("get", 1, store::Error{store::ErrorCode::AccessDenied, 403, "AccessDenied", "", ""});
  int failures = 0;
  for (uint64_t off = kMiB; off < 20 * kMiB; off += kMiB) {
    int rc = read_at(s, off, kMiB);
    if (rc == EACCES && failures++ == 0) rc = read_at(s, off, kMiB);
    assert_int_equal(rc, 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
  assert_int_equal(failures, 1);
}

// Over the shared budget every read fetches exactly its own bytes.
void test_budget_exhausted(void** state) {
  State* s = st(state);
  s->small_budget = std::make_unique<fs::PrefetchBudget>(512 * 1024);
  open_pf(s, s->data.size(), kMiB, 8 * kMiB, *s->small_budget);
  std::string all;
  for (uint64_t off = 0; off < 6 * kMiB; off += 256 * 1024) {
    assert_int_equal(read_at(s, off, 256 * 1024), 0);
    all += s->got;
  }
  assert_true(all == s->data.substr(0, 6 * kMiB));
  assert_int_equal(s->mem.calls("get"), 24);
  assert_int_equal(s->small_budget->used(), 0);
  s->pf.reset();
}

// The object is shorter than the size the file was opened with: EIO, no hang.
void test_object_shrank(void** state) {
  State* s = st(state);
  s->mem.put_object("obj", s->data.substr(0, 5 * kMiB));
  open_pf(s, s->data.size(), kMiB, 8 * kMiB, s->budget);
  int rc = 0;
  uint64_t off = 0;
  for (; off < s->data.size() && rc == 0; off += kMiB) rc = read_at(s, off, kMiB);
  assert_int_equal(rc, EIO);
  assert_true(off > 5 * kMiB);  // everything the object holds was served
}

// Closing while the stream thread fetches ahead: the destructor stops it.
void test_close_mid_stream(void** state) {
  State* s = st(state);
  for (int round = 0; round < 20; ++round) {
    open_pf(s, s->data.size(), kMiB, 16 * kMiB, s->budget);
    for (uint64_t off = 0; off < uint64_t(round % 5 + 2) * kMiB; off += kMiB)
      assert_int_equal(read_at(s, off, kMiB), 0);
    s->pf.reset();
    assert_int_equal(s->budget.used(), 0);
  }
}

// A read back into a window the stream already left is served by a GET.
void test_backward_read(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 4 * kMiB, s->budget);
  for (uint64_t off = 0; off < 12 * kMiB; off += kMiB) assert_int_equal(read_at(s, off, kMiB), 0);
  assert_int_equal(read_at(s, 100, 4096), 0);
  assert_true(s->got == s->data.substr(100, 4096));
  // And the sequential reader goes on where it was.
  for (uint64_t off = 12 * kMiB; off < 20 * kMiB; off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
}

// A reader that waits for the stream (faster than one connection) has both
// windows fetched at once, each by its own GET: two connections' worth of
// throughput on a link that caps each connection.
void test_two_gets_in_flight(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 8 * kMiB, s->budget);
  assert_int_equal(read_at(s, 0, kMiB), 0);  // the first window, fetched by the reader alone
  s->faulty.expect(2);
  std::string all = s->got;
  for (uint64_t off = kMiB; off < 24 * kMiB; off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    all += s->got;
  }
  assert_int_equal(s->faulty.max_in_flight(), 2);
  assert_true(all == s->data.substr(0, 24 * kMiB));
  s->faulty.expect(1);
  s->pf.reset();
  assert_int_equal(s->budget.used(), 0);
}

// A read that skips ahead to where the stream goes next while both windows
// are still being filled behind it: the windows are given to the stream as
// their fills end, and the read gets its bytes (a hang before).
void test_skip_ahead_while_filling(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 4 * kMiB, s->budget);
  assert_int_equal(read_at(s, 0, kMiB), 0);
  s->faulty.slow(std::chrono::milliseconds(5));  // a 2 MiB window takes a while
  assert_int_equal(read_at(s, kMiB, kMiB), 0);   // [1M,3M) and [3M,7M) in flight
  assert_true(s->got == s->data.substr(kMiB, kMiB));
  for (uint64_t off = 7 * kMiB; off < 16 * kMiB; off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
  s->faulty.slow(std::chrono::milliseconds(0));
}

// A random read, then a read right after it: a new stream starts there while
// both windows of the old one are still being filled; it waits for one of
// them to be let go instead of hanging.
void test_restart_while_filling(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 4 * kMiB, s->budget);
  assert_int_equal(read_at(s, 0, kMiB), 0);
  s->faulty.slow(std::chrono::milliseconds(5));
  assert_int_equal(read_at(s, kMiB, kMiB), 0);                    // [1M,3M) and [3M,7M) in flight
  for (uint64_t off = 30 * kMiB; off < 34 * kMiB; off += kMiB) {  // random, then sequential from there
    assert_int_equal(read_at(s, off, kMiB), 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
  s->faulty.slow(std::chrono::milliseconds(0));
}

// The window behind the reader has all its bytes but its GET has not
// returned yet (still Filling) when the reader has read through the window
// after it and waits for the stream's next range: the window goes back to
// the stream as soon as its fill ends (before, nobody freed it: a hang).
void test_window_behind_still_filling(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 4 * kMiB, s->budget);
  assert_int_equal(read_at(s, 0, kMiB), 0);
  s->faulty.linger_at(kMiB, std::chrono::milliseconds(300));  // [1M,3M) ends late; [3M,7M) does not
  for (uint64_t off = kMiB; off < 16 * kMiB; off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
  s->faulty.linger_at(UINT64_MAX, std::chrono::milliseconds(0));
}

// The kernel's workers hand read-ahead requests over in any order: a read of
// the tail of a window that comes after the first read of the next window is
// still served from memory, without a GET of its own.
void test_late_read_behind(void** state) {
  State* s = st(state);
  open_pf(s, s->data.size(), kMiB, 8 * kMiB, s->budget);
  // Windows [0,1M) (the reader's), then [1M,3M), [3M,7M), [7M,15M).
  for (uint64_t off = 0; off < 6 * kMiB; off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
  assert_int_equal(read_at(s, 7 * kMiB, kMiB), 0);  // first read in [7M,15M)
  assert_true(s->got == s->data.substr(7 * kMiB, kMiB));
  int fetches = s->pf->fetches();                   // both windows held: no filler can start a GET
  assert_int_equal(read_at(s, 6 * kMiB, kMiB), 0);  // the late one, from [3M,7M)
  assert_true(s->got == s->data.substr(6 * kMiB, kMiB));
  assert_int_equal(s->pf->fetches(), fetches);
  for (uint64_t off = 8 * kMiB; off < 20 * kMiB; off += kMiB) {
    assert_int_equal(read_at(s, off, kMiB), 0);
    assert_true(s->got == s->data.substr(off, kMiB));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sequential_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_straddling_reads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_reads_start_no_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_error_then_recovery, setup, teardown),
      cmocka_unit_test_setup_teardown(test_budget_exhausted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_object_shrank, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_mid_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backward_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_gets_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_skip_ahead_while_filling, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restart_while_filling, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_behind_still_filling, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_read_behind, setup, teardown),
  };
  return cmocka_run_group_tests_name("prefetcher", tests, nullptr, nullptr);
}
