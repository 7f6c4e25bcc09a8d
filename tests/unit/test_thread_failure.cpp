// test_thread_failure.cpp - a thread that cannot be created (a process or
// memory limit) fails or slows the request that wanted it, never the daemon.
//
// pthread_create is interposed here (the executable's definition wins over
// libc's for std::thread too): after `allowed` more creations it fails with
// EAGAIN, as under RLIMIT_NPROC. Covered: the HEADs of a listing
// (readdir_meta, several threads per listing), the listing stream of opendir,
// and the prefetcher's stream thread.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/prefetcher.hpp"
#include "bucketfs/store/memory_object_store.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;

namespace {
std::atomic<bool> g_limit{false};
std::atomic<int> g_allowed{0};
std::atomic<int> g_refused{0};
}  // namespace

extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  using Real = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static Real real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "pthread_create"));
  if (g_limit && g_allowed.fetch_sub(1) <= 0) {
    ++g_refused;
    return EAGAIN;
  }
  return real(t, attr, fn, arg);
}

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// After `allowed` more threads, creating one fails; until the object dies.
struct ThreadLimit {
  explicit ThreadLimit(int allowed) {
    g_refused = 0;
    g_allowed = allowed;
    g_limit = true;
  }
  ~ThreadLimit() { g_limit = false; }
};

struct State {
  store::MemoryObjectStore store{5 * kMiB};
  fs::Options opts;
  std::unique_ptr<fs::Filesystem> fs;
  std::vector<std::string> names;
  std::vector<struct stat> attrs;
  std::string what;  // an exception that escaped, for the assertion message
};

State* st(void** state) { return static_cast<State*>(*state); }

int setup(void** state) {
  auto* s = new State;
  s->opts.stat_ttl = 3600;
  s->opts.dir_ttl = 3600;
  s->opts.readdir_head_parallel = 8;
  for (int i = 0; i < 40; ++i)
    s->store.put_object("d/f" + std::to_string(100 + i), "x", {{"mode", "33184"}, {"mtime", "1700000000"}});
  *state = s;
  return 0;
}

int teardown(void** state) {
  g_limit = false;  // a failed assertion skipped ~ThreadLimit
  delete st(state);
  return 0;
}

// Lists "d" into s->names/attrs; an escaping exception becomes -1 (its text in s->what).
int list_d(State* s) {
  s->names.clear();
  s->attrs.clear();
  try {
    fs::Entry e;
    if (int rc = s->fs->lookup(fs::kRootIno, "d", &e)) return rc;
    uint64_t fh = 0;
    if (int rc = s->fs->opendir(e.ino, &fh)) return rc;
    uint64_t off = 0;
    for (;;) {
      int taken = 0;
      int rc = s->fs->readdir(fh, off, true, [&](const fs::DirEntry& d, double, double) {
        ++taken;
        off = d.next_offset;
        if (d.name != "." && d.name != "..") {
          s->names.push_back(d.name);
          s->attrs.push_back(d.attr);
        }
        return true;
      });
      if (rc) return rc;
      if (taken == 0) break;
    }
    return s->fs->releasedir(fh);
  } catch (const std::exception& e) {
    s->what = e.what();
    return -1;
  }
}

// readdir_meta=on HEADs every entry with several threads. With none to be had
// (or only the first), the listing still completes with every entry HEADed by
// the caller: before the fix, the exception left the request (no threads), or
// std::terminate ended the process (a joinable thread in the unwound vector).
void check_heads_without_threads(State* s, int allowed) {
  s->opts.readdir_meta = fs::Options::ReaddirMeta::On;
  s->fs = std::make_unique<fs::Filesystem>(s->store, s->opts);
  s->store.reset_counters();
  int rc;
  {
    ThreadLimit limit(allowed);
    rc = list_d(s);
    assert_true(g_refused > 0);  // the limit was hit: the test tested something
  }
  if (rc != 0) fail_msg("listing failed: rc %d %s", rc, s->what.c_str());
  assert_int_equal(s->names.size(), 40);
  assert_int_equal(s->store.calls("head"), 40);
  for (const auto& a : s->attrs) assert_int_equal(a.st_mode, 33184);  // the HEADs' modes
}

void test_listing_heads_no_thread(void** state) { check_heads_without_threads(st(state), 0); }
void test_listing_heads_one_thread(void** state) { check_heads_without_threads(st(state), 1); }

// The listing stream of opendir (readdir_meta=off) lists in the caller instead.
void test_listing_stream_no_thread(void** state) {
  State* s = st(state);
  s->opts.readdir_meta = fs::Options::ReaddirMeta::Off;
  s->fs = std::make_unique<fs::Filesystem>(s->store, s->opts);
  int rc;
  {
    ThreadLimit limit(0);
    rc = list_d(s);
    assert_true(g_refused > 0);
  }
  if (rc != 0) fail_msg("listing failed: rc %d %s", rc, s->what.c_str());
  assert_int_equal(s->names.size(), 40);
}

// A sequential reader whose stream thread cannot start gets its bytes, read by
// read, and later reads do not wait for a stream that never came.
void test_prefetch_stream_no_thread(void** state) {
  State* s = st(state);
  std::string data(20 * kMiB + 333, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  s->store.put_object("big", data);
  fs::PrefetchBudget budget(256 * kMiB);
  auto pf = std::make_unique<fs::Prefetcher>(s->store, "big", data.size(), kMiB, 8 * kMiB, budget);
  std::string all, got;
  {
    ThreadLimit limit(0);
    for (uint64_t off = 0; off < data.size(); off += kMiB) {
      got.clear();
      int rc;
      try {
        rc = pf->read(off, kMiB, &got);
      } catch (const std::exception& e) {
        fail_msg("read at %llu threw: %s", static_cast<unsigned long long>(off), e.what());
      }
      assert_int_equal(rc, 0);
      all += got;
    }
    assert_true(g_refused > 0);
  }
  assert_int_equal(all.size(), data.size());
  assert_true(all == data);
  pf.reset();
  assert_int_equal(budget.used(), 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_listing_heads_no_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listing_heads_one_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listing_stream_no_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prefetch_stream_no_thread, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
