// test_ranked_mutex.cpp - the lock-order check (util/ranked_mutex.hpp) with
// the check compiled in, whatever the build: acquisitions in rank order and
// nested ranks pass; an out-of-order acquisition, a second lock of one
// non-nested rank, and a re-lock by one thread abort the process (each tried
// in a child).
#define BUCKETFS_LOCK_RANKS 1
#include "../../src/util/ranked_mutex.cpp"  // the checking build of the implementation

#include <sys/wait.h>
#include <unistd.h>

#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
extern "C" {
#include <cmocka.h>
}

using bucketfs::LockRank;
using bucketfs::RankedMutex;

namespace {

// Runs f in a child with stderr silenced; true when the child was killed by SIGABRT.
bool aborts(const std::function<void()>& f) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (std::freopen("/dev/null", "w", stderr) == nullptr) ::_exit(3);
    f();
    ::_exit(0);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

void test_in_order_passes(void**) {
  assert_false(aborts([] {
    RankedMutex a(LockRank::FsMutate), b(LockRank::FsPending), c(LockRank::UploadRecord), d(LockRank::FsLeaf);
    std::lock_guard la(a), lb(b), lc(c), ld(d);
  }));
  // Released locks no longer count; releasing out of order is fine.
  assert_false(aborts([] {
    RankedMutex leaf(LockRank::FsLeaf), reg(LockRank::FsRegistry), first(LockRank::FsMutate);
    { std::lock_guard l(leaf); }
    reg.lock();
    reg.unlock();
    std::lock_guard l(first);
  }));
}

void test_out_of_order_aborts(void**) {
  assert_true(aborts([] {
    RankedMutex leaf(LockRank::FsLeaf), first(LockRank::FsMutate);
    std::lock_guard a(leaf);
    std::lock_guard b(first);
  }));
  // The uploader's queue lock before a job's record lock: the inversion the
  // old comments described.
  assert_true(aborts([] {
    RankedMutex queue(LockRank::UploadQueue), record(LockRank::UploadRecord);
    std::lock_guard a(queue);
    std::lock_guard b(record);
  }));
}

void test_same_rank(void**) {
  // Two leaves at once: not allowed.
  assert_true(aborts([] {
    RankedMutex a(LockRank::FsLeaf), b(LockRank::FsLeaf);
    std::lock_guard la(a), lb(b);
  }));
  // Two Pending locks (a rename): nested, allowed.
  assert_false(aborts([] {
    RankedMutex a(LockRank::FsPending, true), b(LockRank::FsPending, true);
    std::lock_guard la(a), lb(b);
  }));
  // The same mutex twice by one thread.
  assert_true(aborts([] {
    RankedMutex a(LockRank::FsPending, true);
    a.lock();
    a.lock();
  }));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_order_passes),
      cmocka_unit_test(test_out_of_order_aborts),
      cmocka_unit_test(test_same_rank),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
