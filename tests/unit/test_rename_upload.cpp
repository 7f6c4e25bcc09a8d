// test_rename_upload.cpp - renaming and unlinking files while their uploads
// are queued, run or complete: the Filesystem's write path with a real
// Uploader, staging area and checkpoint store over MemoryObjectStore. A rename
// that races the upload's completion must still succeed and leave the object
// under the new name only, with no staging file or checkpoint record left
// behind; an unlinked or replaced file must leave no closed mark that a crash
// would upload again.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/memory_object_store.hpp"
#include "bucketfs/upload/uploader.hpp"

// Last: cmocka defines a fail() macro that breaks <ios> if included before it.
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;
namespace fsys = std::filesystem;

namespace {

constexpr uint64_t kPart = 5 * 1024 * 1024;

struct World {
  std::string dir;
  store::MemoryObjectStore mem{kPart};
  std::unique_ptr<checkpoint::CheckpointStore> cp;
  std::unique_ptr<stage::StagingArea> staging;
  std::unique_ptr<upload::Uploader> up;
  std::unique_ptr<fs::Filesystem> fs;

  explicit World(bool start = true) {
    char tmpl[] = "/tmp/bucketfs-rename-XXXXXX";
    dir = ::mkdtemp(tmpl);
    cp = std::move(checkpoint::CheckpointStore::open(dir + "/cp", false).value());
    staging = std::move(stage::StagingArea::open(dir + "/staging", 0).value());
    upload::UploaderConfig c;
    c.bucket = "b";
    c.part_size = kPart;
    c.concurrency = 4;
    c.retry_base = std::chrono::milliseconds(5);
    c.retry_cap = std::chrono::milliseconds(20);
    up = std::make_unique<upload::Uploader>(mem, *cp, *staging, c);
    fs::Options o;
    o.stat_ttl = 3600;
    o.dir_ttl = 3600;
    fs = std::make_unique<fs::Filesystem>(mem, o, fs::WritePath{staging.get(), up.get(), false});
    if (start) up->start();
  }
  ~World() {
    fs.reset();
    up.reset();
    cp.reset();
    fsys::remove_all(dir);
  }
  bool wait_idle(int ms = 20000) {
    for (int i = 0; i < ms / 5; ++i) {
      if (up->idle()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  // Files left in the staging directory (data files and their marks).
  size_t staged_files() {
    size_t n = 0;
    for (const auto& e : fsys::directory_iterator(dir + "/staging"))
      if (e.is_regular_file()) ++n;
    return n;
  }
};

int setup(void** state) {
  *state = new World();
  return 0;
}
// The uploader does not run: closed versions stay queued.
int setup_stopped(void** state) {
  *state = new World(false);
  return 0;
}
int teardown(void** state) {
  delete static_cast<World*>(*state);
  return 0;
}

fs::Context ctx() {
  fs::Context c;
  c.uid = 1000;
  c.gid = 1000;
  c.umask = 022;
  return c;
}

// Writes data to a new file `name` in the root and closes it (the upload starts).
void write_file(World* w, const std::string& name, const std::string& data) {
  fs::Entry e;
  uint64_t fh = 0;
  assert_int_equal(w->fs->create(fs::kRootIno, name, S_IFREG | 0644, O_WRONLY, ctx(), &e, &fh), 0);
  size_t n = 0;
  assert_int_equal(w->fs->write(fh, 0, data.data(), data.size(), &n), 0);
  assert_int_equal(n, data.size());
  assert_int_equal(w->fs->flush(fh), 0);
  assert_int_equal(w->fs->release(fh), 0);
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Every file is renamed right after its close, while its upload is queued,
// running or just completing: each rename succeeds, and the bucket ends with
// exactly the new names.
void test_rename_races_upload_completion(void** state) {
  auto* w = static_cast<World*>(*state);
  constexpr int kFiles = 150;
  std::vector<std::string> data(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    // Mostly single PUTs, some multipart; sizes vary so completion times do.
    size_t size = i % 10 == 9 ? kPart + 4096 * i : 1 + 997 * i;
    data[i] = random_bytes(size, i + 1);
    write_file(w, "f" + std::to_string(i), data[i]);
    // Let some uploads get further before their rename.
    if (i % 3 == 1) std::this_thread::sleep_for(std::chrono::microseconds(300 * (i % 7)));
    int rc = w->fs->rename(fs::kRootIno, "f" + std::to_string(i), fs::kRootIno, "g" + std::to_string(i), 0);
    if (rc != 0) fail_msg("rename of f%d: %s", i, std::strerror(rc));
  }
  assert_true(w->wait_idle());
  int wrong = 0;
  for (int i = 0; i < kFiles; ++i) {
    auto got = w->mem.object_data("g" + std::to_string(i));
    if (!got || *got != data[i]) {
      std::printf("  g%d: %s\n", i, got ? "different bytes" : "missing");
      ++wrong;
    }
    if (w->mem.object_data("f" + std::to_string(i))) {
      std::printf("  f%d: still in the bucket\n", i);
      ++wrong;
    }
    fs::Entry e;
    if (w->fs->lookup(fs::kRootIno, "g" + std::to_string(i), &e) != 0 || e.attr.st_size != (off_t)data[i].size()) {
      std::printf("  g%d: wrong through the mount\n", i);
      ++wrong;
    }
  }
  assert_int_equal(wrong, 0);
  assert_int_equal(w->staged_files(), 0);  // every staging file went with its upload
  auto recs = w->cp->load_all();
  assert_true(recs.ok());
  assert_int_equal(recs->good.size(), 0);  // no record left to upload again at the next mount
}

// A rename after the upload completed moves the object in the bucket.
void test_rename_after_upload(void** state) {
  auto* w = static_cast<World*>(*state);
  const std::string data = random_bytes(10000, 7);
  write_file(w, "done", data);
  assert_true(w->wait_idle());
  assert_int_equal(w->fs->rename(fs::kRootIno, "done", fs::kRootIno, "moved", 0), 0);
  assert_false(w->mem.object_data("done").has_value());
  assert_true(*w->mem.object_data("moved") == data);
  assert_int_equal(w->staged_files(), 0);
}

// What a crash would find in the staging area: closed (marked) files.
size_t marked(World* w) {
  size_t n = 0;
  for (const auto& e : w->staging->scan(false))
    if (e.state != stage::MarkState::None) ++n;
  return n;
}

// Opens name for writing with flags, writes data at 0, keeps it open.
uint64_t open_write(World* w, const std::string& name, int flags, const std::string& data) {
  fs::Entry e;
  assert_int_equal(w->fs->lookup(fs::kRootIno, name, &e), 0);
  uint64_t fh = 0;
  assert_int_equal(w->fs->open(e.ino, flags, &fh), 0);
  size_t n = 0;
  assert_int_equal(w->fs->write(fh, 0, data.data(), data.size(), &n), 0);
  return fh;
}

// Unlink of a file whose closed version is still queued while a newer one is
// written (a fork): neither staging file may keep a closed mark, or a crash
// (and the next mount) would bring the deleted file back.
void test_unlink_queued_and_forked(void** state) {
  auto* w = static_cast<World*>(*state);
  write_file(w, "victim", random_bytes(5000, 11));  // closed, queued (the uploader is stopped)
  uint64_t fh = open_write(w, "victim", O_WRONLY | O_TRUNC, "newer, not closed");
  assert_int_equal(marked(w), 1);
  assert_int_equal(w->fs->unlink(fs::kRootIno, "victim"), 0);
  assert_int_equal(marked(w), 0);
  assert_int_equal(w->fs->flush(fh), 0);
  assert_int_equal(w->fs->release(fh), 0);
  assert_int_equal(marked(w), 0);
  w->up->start();
  assert_true(w->wait_idle());
  assert_false(w->mem.object_data("victim").has_value());
  assert_int_equal(w->staged_files(), 0);
}

// A rename over a file whose closed version is queued while a newer one is
// written: the replaced file's closed versions all go, the moved one stays.
void test_rename_over_queued_and_forked(void** state) {
  auto* w = static_cast<World*>(*state);
  const std::string mover = random_bytes(3000, 12);
  write_file(w, "target", random_bytes(4000, 13));
  uint64_t fh = open_write(w, "target", O_WRONLY | O_TRUNC, "replaced before its close");
  write_file(w, "mover", mover);
  assert_int_equal(marked(w), 2);
  assert_int_equal(w->fs->rename(fs::kRootIno, "mover", fs::kRootIno, "target", 0), 0);
  assert_int_equal(marked(w), 1);  // the mover's, now under "target"
  assert_int_equal(w->fs->release(fh), 0);
  w->up->start();
  assert_true(w->wait_idle());
  assert_true(*w->mem.object_data("target") == mover);
  assert_false(w->mem.object_data("mover").has_value());
  assert_int_equal(marked(w), 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rename_races_upload_completion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_after_upload, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unlink_queued_and_forked, setup_stopped, teardown),
      cmocka_unit_test_setup_teardown(test_rename_over_queued_and_forked, setup_stopped, teardown),
  };
  return cmocka_run_group_tests_name("rename_upload", tests, nullptr, nullptr);
}
