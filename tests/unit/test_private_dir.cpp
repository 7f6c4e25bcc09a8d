// test_private_dir.cpp - the cache dir cannot be hijacked by another local
// user: open_private_dir refuses a path another user could change, creates
// what is missing 0700 without following symlinks; open_private_file and the
// checkpoint store's lock refuse planted symlinks and hard links and leave
// their targets (a "canary" file) untouched.
//
// Cases needing a file of another owner (chown to nobody) run as root only
// and are skipped otherwise; the rest run as any user (make test runs this
// as root and as nobody).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/util/private_dir.hpp"
#include "lib/scratch_dir.hpp"

#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;

namespace {

constexpr uid_t kNobody = 65534;
const char* kCanaryText = "canary: must never change\n";

struct State {
  std::string root;    // a private temp dir of this test
  std::string canary;  // a file a planted link points at
  std::string error;   // the last error text
};

State* st(void** state) { return static_cast<State*>(*state); }

int setup(void** state) {
  auto* s = new State;
  s->root = testing::make_scratch_dir("bfs-pdir");
  if (s->root.empty()) return -1;
  s->canary = s->root + "/canary";
  std::ofstream(s->canary) << kCanaryText;
  *state = s;
  return 0;
}

int teardown(void** state) {
  State* s = st(state);
  if (!testing::remove_scratch_dir(s->root)) return -1;
  delete s;
  return 0;
}

mode_t mode_of(const std::string& path) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0) return 0;
  return sb.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat sb {};
  return ::lstat(path.c_str(), &sb) == 0;
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// open_private_dir(dir): true if opened; the error text goes to s->error.
bool open_dir(State* s, const std::string& dir, std::string* path = nullptr) {
  auto r = open_private_dir(dir);
  if (!r) {
    s->error = r.error();
    return false;
  }
  s->error.clear();
  if (path) *path = r->path;
  return true;
}

#define assert_refused(s, dir, text)                                                                \
  do {                                                                                              \
    if (open_dir(s, dir)) fail_msg("%s was accepted", std::string(dir).c_str());                    \
    if (!contains((s)->error, text)) fail_msg("message '%s' lacks '%s'", (s)->error.c_str(), text); \
  } while (0)

void require_root() {
  if (::geteuid() != 0) skip();
}

void test_creates_missing_dirs_private(void** state) {
  State* s = st(state);
  std::string got;
  ::umask(022);
  assert_true(open_dir(s, s->root + "/a/b/c", &got));
  assert_string_equal(got.c_str(), (s->root + "/a/b/c").c_str());
  assert_int_equal(mode_of(s->root + "/a"), 0700);
  assert_int_equal(mode_of(s->root + "/a/b/c"), 0700);
  // An existing dir of ours readable by others is made private.
  ::chmod((s->root + "/a/b/c").c_str(), 0755);
  assert_true(open_dir(s, s->root + "/a/b/c"));
  assert_int_equal(mode_of(s->root + "/a/b/c"), 0700);
  // Relative paths are taken from the current directory; "." and ".." work.
  char cwd[4096];
  assert_non_null(::getcwd(cwd, sizeof cwd));
  assert_int_equal(::chdir(s->root.c_str()), 0);
  bool ok = open_dir(s, "a/b/../b/./d", &got);
  assert_int_equal(::chdir(cwd), 0);
  assert_true(ok);
  assert_string_equal(got.c_str(), (s->root + "/a/b/d").c_str());
}

void test_world_writable_parent_refused(void** state) {
  State* s = st(state);
  const std::string shared = s->root + "/shared";
  assert_int_equal(::mkdir(shared.c_str(), 0700), 0);
  assert_int_equal(::chmod(shared.c_str(), 0777), 0);
  assert_refused(s, shared + "/cache", "writable by other users");
  assert_true(contains(s->error, "chmod go-w " + shared));
  assert_false(exists(shared + "/cache"));  // nothing created under it
  assert_int_equal(::chmod(shared.c_str(), 0770), 0);
  assert_refused(s, shared + "/cache", "writable by its group");
  // The sticky bit (as /tmp has) keeps others from replacing our entries.
  assert_int_equal(::chmod(shared.c_str(), 01777), 0);
  assert_true(open_dir(s, shared + "/cache"));
  // ... but the directory itself must not be writable by others, sticky or not,
  // however it is spelled (and it is left as it was, not chmod'ed).
  assert_refused(s, shared, "writable by other users");
  assert_refused(s, shared + "/.", "writable by other users");
  assert_refused(s, shared + "/cache/..", "writable by other users");
  assert_int_equal(mode_of(shared), 01777);
}

void test_group_writable_final_dir_refused(void** state) {
  State* s = st(state);
  const std::string d = s->root + "/cache";
  assert_true(open_dir(s, d));
  assert_int_equal(::chmod(d.c_str(), 0770), 0);
  assert_refused(s, d, "writable by its group");
  assert_int_equal(mode_of(d), 0770);  // refused, not silently "fixed"
}

void test_symlinks(void** state) {
  State* s = st(state);
  const std::string real = s->root + "/real";
  assert_true(open_dir(s, real));
  // Our own symlink is followed; the path returned is the real one.
  assert_int_equal(::symlink(real.c_str(), (s->root + "/link").c_str()), 0);
  std::string got;
  assert_true(open_dir(s, s->root + "/link/sub", &got));
  assert_string_equal(got.c_str(), (real + "/sub").c_str());
  // A relative one too.
  assert_int_equal(::symlink("real", (s->root + "/rel").c_str()), 0);
  assert_true(open_dir(s, s->root + "/rel/sub", &got));
  assert_string_equal(got.c_str(), (real + "/sub").c_str());
  // A loop ends.
  assert_int_equal(::symlink("loop2", (s->root + "/loop1").c_str()), 0);
  assert_int_equal(::symlink("loop1", (s->root + "/loop2").c_str()), 0);
  assert_refused(s, s->root + "/loop1/x", "too many symlinks");
  // A file on the way.
  assert_refused(s, s->canary + "/x", "is not a directory");
}

// Root only: components of another owner.
void test_foreign_owner_refused(void** state) {
  require_root();
  State* s = st(state);
  const std::string theirs = s->root + "/theirs";
  assert_int_equal(::mkdir(theirs.c_str(), 0755), 0);
  assert_int_equal(::chown(theirs.c_str(), kNobody, kNobody), 0);
  assert_refused(s, theirs + "/cache", "owned by uid 65534");
  assert_refused(s, theirs, "not by you");
  // A symlink another user planted (in a sticky dir, where they may) is not followed.
  const std::string sticky = s->root + "/tmp";
  assert_int_equal(::mkdir(sticky.c_str(), 01777), 0);
  assert_int_equal(::chmod(sticky.c_str(), 01777), 0);
  const std::string target = s->root + "/target";
  assert_true(open_dir(s, target));
  assert_int_equal(::symlink(target.c_str(), (sticky + "/cache").c_str()), 0);
  assert_int_equal(::lchown((sticky + "/cache").c_str(), kNobody, kNobody), 0);
  assert_refused(s, sticky + "/cache/state", "is a symlink owned by uid 65534");
  assert_false(exists(target + "/state"));
}

// open_private_file: a planted symlink, hard link or FIFO is refused and its
// target untouched; a fresh file is created 0600.
void test_private_file(void** state) {
  State* s = st(state);
  const std::string d = s->root + "/cache";
  auto dir = open_private_dir(d);
  assert_true(dir.ok());
  const int fd = dir->fd.get();
  auto f = open_private_file(fd, dir->path, "fresh", O_WRONLY | O_CREAT, 0600);
  assert_true(f.ok());
  assert_int_equal(mode_of(d + "/fresh"), 0600);

  assert_int_equal(::symlink(s->canary.c_str(), (d + "/sym").c_str()), 0);
  auto r1 = open_private_file(fd, dir->path, "sym", O_RDWR | O_CREAT, 0600);
  assert_false(r1.ok());
  assert_true(contains(r1.error(), "is a symlink"));

  assert_int_equal(::link(s->canary.c_str(), (d + "/hard").c_str()), 0);
  auto r2 = open_private_file(fd, dir->path, "hard", O_RDWR | O_CREAT, 0600);
  assert_false(r2.ok());
  assert_true(contains(r2.error(), "2 hard links"));

  assert_int_equal(::mkfifo((d + "/fifo").c_str(), 0600), 0);
  auto r3 = open_private_file(fd, dir->path, "fifo", O_RDWR | O_CREAT, 0600);  // does not hang
  assert_false(r3.ok());
  assert_true(contains(r3.error(), "not a regular file"));
  assert_string_equal(testing::read_whole_file(s->canary).c_str(), kCanaryText);
}

void test_private_file_foreign_owner(void** state) {
  require_root();
  State* s = st(state);
  auto dir = open_private_dir(s->root + "/cache");
  assert_true(dir.ok());
  const std::string p = dir->path + "/theirs";
  std::ofstream(p) << "x";
  assert_int_equal(::chown(p.c_str(), kNobody, kNobody), 0);
  auto r = open_private_file(dir->fd.get(), dir->path, "theirs", O_RDWR, 0);
  assert_false(r.ok());
  assert_true(contains(r.error(), "owned by uid 65534"));
}

// The checkpoint store's lock: a planted `lock` symlink or hard link makes the
// open fail with a clear message, and the canary is neither truncated nor
// written (before: opened with O_CREAT through the link and truncated).
void test_checkpoint_lock_not_followed(void** state) {
  State* s = st(state);
  const std::string cp = s->root + "/state/checkpoint";
  assert_true(open_dir(s, cp));
  assert_int_equal(::symlink(s->canary.c_str(), (cp + "/lock").c_str()), 0);
  auto r = checkpoint::CheckpointStore::open(cp, false);
  assert_false(r.ok());
  assert_true(contains(r.error().message, "lock"));
  assert_true(contains(r.error().message, "symlink"));
  assert_string_equal(testing::read_whole_file(s->canary).c_str(), kCanaryText);

  assert_int_equal(::unlink((cp + "/lock").c_str()), 0);
  assert_int_equal(::link(s->canary.c_str(), (cp + "/lock").c_str()), 0);
  auto r2 = checkpoint::CheckpointStore::open(cp, false);
  assert_false(r2.ok());
  assert_true(contains(r2.error().message, "hard links"));
  assert_string_equal(testing::read_whole_file(s->canary).c_str(), kCanaryText);

  // A lock file left by an earlier run is reused; the pid is written at a
  // fixed width over whatever was there, without truncating.
  assert_int_equal(::unlink((cp + "/lock").c_str()), 0);
  std::ofstream(cp + "/lock") << "123456789012345678901234567890\n";
  ::chmod((cp + "/lock").c_str(), 0600);
  auto ok = checkpoint::CheckpointStore::open(cp, false);
  assert_true(ok.ok());
  const std::string pid = testing::read_whole_file(cp + "/lock");
  assert_int_equal(std::strtol(pid.c_str(), nullptr, 10), ::getpid());
  auto second = checkpoint::CheckpointStore::open(cp, false);
  assert_false(second.ok());
  assert_true(contains(second.error().message, "pid " + std::to_string(::getpid())));
}

// The checkpoint dir given to the store is checked like the cache dir.
void test_checkpoint_dir_checked(void** state) {
  State* s = st(state);
  const std::string shared = s->root + "/shared";
  assert_int_equal(::mkdir(shared.c_str(), 0700), 0);
  assert_int_equal(::chmod(shared.c_str(), 0777), 0);
  auto r = checkpoint::CheckpointStore::open(shared + "/state/checkpoint", false);
  assert_false(r.ok());
  assert_true(contains(r.error().message, "writable by other users"));
  assert_false(exists(shared + "/state"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_creates_missing_dirs_private, setup, teardown),
      cmocka_unit_test_setup_teardown(test_world_writable_parent_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_writable_final_dir_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_foreign_owner_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_private_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_private_file_foreign_owner, setup, teardown),
      cmocka_unit_test_setup_teardown(test_checkpoint_lock_not_followed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_checkpoint_dir_checked, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
