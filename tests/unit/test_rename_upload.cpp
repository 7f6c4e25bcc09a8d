// test_rename_upload.cpp - renaming and unlinking files while their uploads
// are queued, run or complete: the Filesystem's write path with a real
// Uploader, staging area and checkpoint store over MemoryObjectStore. A rename
// that races the upload's completion must still succeed and leave the object
// under the new name only, with no staging file or checkpoint record left
// behind; an unlinked or replaced file must leave no closed mark that a crash
// would upload again.
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
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
#include "bucketfs/store/faulty_object_store.hpp"
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

// The store between the mount and the bucket: uploads can be slowed, and a
// server-side copy can be held until a key has landed in the bucket (to
// make an upload complete while a directory rename copies).
class GateStore : public store::FaultyObjectStore {
 public:
  explicit GateStore(store::MemoryObjectStore& mem) : FaultyObjectStore(mem), mem_(mem) {}
  std::atomic<int> put_delay_ms{0};
  std::string hold_copies_until;  // a key; set before the operation it gates
  store::StoreResult<std::string> put(const std::string& key, const store::FileRange& body,
                                      const store::PutOptions& opts) override {
    if (int ms = put_delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return FaultyObjectStore::put(key, body, opts);
  }
  store::StoreResult<std::string> copy(const std::string& src, const std::string& dst,
                                       const std::optional<store::PutOptions>& replace) override {
    for (int i = 0; !hold_copies_until.empty() && i < 200 && !mem_.object_data(hold_copies_until); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return FaultyObjectStore::copy(src, dst, replace);
  }

 private:
  store::MemoryObjectStore& mem_;
};

struct World {
  std::string dir;
  store::MemoryObjectStore mem{kPart};
  GateStore gate{mem};
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
    up = std::make_unique<upload::Uploader>(gate, *cp, *staging, c);
    fs::Options o;
    o.stat_ttl = 3600;
    o.dir_ttl = 3600;
    fs = std::make_unique<fs::Filesystem>(gate, o, fs::WriteBackend{staging.get(), up.get(), false});
    if (start) up->start();
  }
  ~World() {
    // As the mount does: the uploader stops (its done handler calls into the
    // filesystem) before the filesystem goes.
    up.reset();
    fs.reset();
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
  if (w->staged_files() != 0)
    for (const auto& e : fsys::directory_iterator(w->dir + "/staging"))
      std::printf("  left: %s\n", e.path().c_str());
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

// Issue 15: a directory renamed while the upload of a file in it completes.
// The copy of the directory's objects is held until that upload has landed
// (or a while): the file must end under the new name only, never left or
// brought back under the old one.
void test_dir_rename_races_upload(void** state) {
  auto* w = static_cast<World*>(*state);
  fs::Entry d;
  assert_int_equal(w->fs->mkdir(fs::kRootIno, "d", 0755, ctx(), &d), 0);
  w->mem.put_object("d/old.txt", "an object already there");
  const std::string data = random_bytes(20000, 21);
  w->gate.put_delay_ms = 200;  // the upload is in flight when the rename comes
  fs::Entry e;
  uint64_t fh = 0;
  assert_int_equal(w->fs->create(d.ino, "f", S_IFREG | 0644, O_WRONLY, ctx(), &e, &fh), 0);
  size_t n = 0;
  assert_int_equal(w->fs->write(fh, 0, data.data(), data.size(), &n), 0);
  assert_int_equal(w->fs->flush(fh), 0);
  assert_int_equal(w->fs->release(fh), 0);
  w->gate.hold_copies_until = "d/f";
  assert_int_equal(w->fs->rename(fs::kRootIno, "d", fs::kRootIno, "d2", 0), 0);
  w->gate.hold_copies_until.clear();
  assert_true(w->wait_idle());
  auto got = w->mem.object_data("d2/f");
  assert_true(got.has_value() && *got == data);
  assert_false(w->mem.object_data("d/f").has_value());
  assert_true(*w->mem.object_data("d2/old.txt") == "an object already there");
  assert_false(w->mem.object_data("d/old.txt").has_value());
  fs::Entry none;
  assert_int_equal(w->fs->lookup(fs::kRootIno, "d", &none), ENOENT);
}

// Issue 15: a size of 0 in the attribute cache is as stale as any other. An
// append to a file another client filled meanwhile keeps its bytes.
void test_append_after_stale_empty_stat(void** state) {
  auto* w = static_cast<World*>(*state);
  w->mem.put_object("grown", "");
  fs::Entry e;
  assert_int_equal(w->fs->lookup(fs::kRootIno, "grown", &e), 0);
  assert_int_equal(e.attr.st_size, 0);  // cached for stat_ttl
  w->mem.put_object("grown", "written elsewhere\n");
  uint64_t fh = 0;
  assert_int_equal(w->fs->open(e.ino, O_WRONLY | O_APPEND, &fh), 0);
  size_t n = 0;
  assert_int_equal(w->fs->write(fh, 0, "x\n", 2, &n), 0);
  assert_int_equal(w->fs->flush(fh), 0);
  assert_int_equal(w->fs->release(fh), 0);
  assert_true(w->wait_idle());
  assert_string_equal(w->mem.object_data("grown")->c_str(), "written elsewhere\nx\n");
}

// Issue 15: nothing is written past the largest object the store takes.
void test_write_past_object_limit(void** state) {
  auto* w = static_cast<World*>(*state);
  fs::Entry e;
  uint64_t fh = 0;
  assert_int_equal(w->fs->create(fs::kRootIno, "huge", S_IFREG | 0644, O_WRONLY, ctx(), &e, &fh), 0);
  size_t n = 0;
  assert_int_equal(w->fs->write(fh, (5ull << 40) - 1, "ab", 2, &n), EFBIG);
  assert_int_equal(w->fs->write(fh, 0, "ab", 2, &n), 0);
  assert_int_equal(w->fs->release(fh), 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rename_races_upload_completion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rename_after_upload, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unlink_queued_and_forked, setup_stopped, teardown),
      cmocka_unit_test_setup_teardown(test_rename_over_queued_and_forked, setup_stopped, teardown),
      cmocka_unit_test_setup_teardown(test_dir_rename_races_upload, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_after_stale_empty_stat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_past_object_limit, setup, teardown),
  };
  return cmocka_run_group_tests_name("rename_upload", tests, nullptr, nullptr);
}
