// test_crash_states.cpp - the crash states of issue 11, built directly (no
// recorder) and recovered in-process with the harness's mount
// (harness_mount.hpp) over MemoryObjectStore. Each one is a state a power
// cut (or a kill) can leave on today's code, and each FAILS there; they pass
// once recovery handles it:
//   (a) data.mdb from before the last commit (MDB_NOMETASYNC undoes it): the
//       closed file must still reach the bucket with its mode/uid/gid/mtime;
//   (b) a staging file whose closed mark is durable but whose data is short
//       (the mark persisted before the data): it must not replace the last
//       good version;
//   (c) two marked generations of one key and no records: one upload, and
//       the highest generation wins;
//   (d) a pending file's record under both its old and new name (a crash
//       between the two transactions of a rename): the file under one name;
//   (e) an unlinked pending file's staging file back after a power cut (the
//       unlink of the staging file was not durable; the inode comes back as it
//       was, mark included): the unlinked file must not come back.
// In phase 1 the bucket refuses uploads (and the last close keeps its writer
// open, so its upload waits to settle): nothing reaches the bucket before the
// crash state is built.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/memory_object_store.hpp"
#include "bucketfs/upload/recovery.hpp"
#include "bucketfs/util/log.hpp"
#include "expectations.hpp"
#include "harness_mount.hpp"
#include "observed_store.hpp"
#include "workload.hpp"

// Last: cmocka defines a fail() macro that breaks <ios> if included before it.
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs;
using namespace crash;
namespace fsys = std::filesystem;

namespace {

constexpr uint64_t kPart = 64 * 1024;

// Refuses what would put an object in the bucket; everything else passes.
class UploadsRefused : public ObservedStore {
 public:
  explicit UploadsRefused(store::ObjectStore& inner) : ObservedStore(inner, nullptr) {}
  static store::Error refused() {
    store::Error e;
    e.code = store::ErrorCode::AccessDenied;
    e.http_status = 403;
    e.message = "uploads are refused in this phase of the test";
    return e;
  }
  store::StoreResult<std::string> put(const std::string&, const store::FileRange&,
                                      const store::PutOptions&) override {
    return refused();
  }
  store::StoreResult<store::MultipartUpload> create_upload(const std::string&, const store::PutOptions&) override {
    return refused();
  }
};

// The test's state (cmocka fails with longjmp: everything with a destructor
// lives here). Members are destroyed in reverse order: the phase-1 mount
// first, then the store it uses, then the bucket.
struct World {
  std::string dir;
  store::MemoryObjectStore bucket{kPart};
  std::map<std::string, int> puts;  // objects written per key during the recovery
  std::mutex mu;
  MountConfig cfg;
  UploadsRefused refusing{bucket};
  std::unique_ptr<Mount> m;  // phase 1

  World() {
    std::string tmpl =
        (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/crash-states-XXXXXX");
    dir = ::mkdtemp(tmpl.data());
    cfg.cache_dir = dir + "/cache";
    cfg.fs.uid = 1000;
    cfg.fs.gid = 1000;
  }
  ~World() {
    unmount(std::move(m));
    fsys::remove_all(dir);
  }
  std::string checkpoint_dir() const { return state_dir_of(cfg) + "/checkpoint"; }
  std::string staging_dir() const { return state_dir_of(cfg) + "/staging"; }

  // Phase 1: mounted over a bucket that refuses uploads.
  Mount& begin() {
    auto got = mount(cfg, refusing);
    if (!got) fail_msg("mount: %s", got.error().c_str());
    m = std::move(got.value());
    return *m;
  }
  // The end of phase 1 (the "crash": as a process crash, every call that
  // returned took effect; the test then builds the power-cut state).
  void end() { unmount(std::move(m)); }
  // Phase 2: recovery over the real bucket until idle; counts objects written per key.
  void recover() {
    ObservedStore counting(bucket, [this](const Request& r) {
      std::lock_guard lk(mu);
      if (r.ok && (std::string(r.op) == "put" || std::string(r.op) == "complete_multipart")) ++puts[r.key];
    });
    auto m = mount(cfg, counting);
    if (!m) fail_msg("recovery mount failed: %s", m.error().c_str());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!m.value()->uploader->idle() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    bool idle = m.value()->uploader->idle();
    unmount(std::move(m.value()));
    if (!idle) fail_msg("recovery did not finish within 60 s");
  }
  std::string object(const std::string& key) const { return bucket.object_data(key).value_or("<absent>"); }
  std::string meta(const std::string& key, const char* k) const {
    auto i = bucket.object_info(key);
    if (!i) return "<absent>";
    auto it = i->meta.find(k);
    return it == i->meta.end() ? "<none>" : it->second;
  }
  // The staging file whose closed mark names key (there must be one).
  std::string staged_file_of(const std::string& key) const {
    auto staging = stage::StagingArea::open(staging_dir(), 0);
    if (staging) {
      for (const auto& e : (*staging)->scan(false))
        if (e.state == stage::MarkState::Valid && e.mark.key == key) return e.path;
    }
    fail_msg("no staging file is marked with key %s", key.c_str());
    return "";
  }
};

int setup(void** state) {
  *state = new World();
  return 0;
}
int teardown(void** state) {
  delete static_cast<World*>(*state);
  return 0;
}
World& world(void** state) { return *static_cast<World*>(*state); }

// Creates `name` in the root with `data`, closes it (flush: the commit), and
// leaves the writer open (the upload settles; nothing is sent). Returns its mode.
mode_t close_file(Mount& m, const std::string& name, const std::string& data, mode_t perm = 0640,
                  struct stat* attr = nullptr) {
  fs::Entry e;
  uint64_t fh = 0;
  fs::Context ctx{1234, 4321, 0};
  assert_int_equal(m.filesystem->create(fs::kRootIno, name, S_IFREG | perm, O_WRONLY, ctx, &e, &fh), 0);
  size_t n = 0;
  assert_int_equal(m.filesystem->write(fh, 0, data.data(), data.size(), &n), 0);
  if (attr) {
    double ttl;
    assert_int_equal(m.filesystem->getattr(e.ino, attr, &ttl), 0);
  }
  assert_int_equal(m.filesystem->flush(fh), 0);
  return S_IFREG | perm;
}

void copy_file(const std::string& from, const std::string& to) {
  fsys::copy_file(from, to, fsys::copy_options::overwrite_existing);
}

// (a) The record of a closed file rolled back with data.mdb's last commit.
void test_rolled_back_record_keeps_metadata(void** state) {
  World& w = world(state);
  const std::string data = make_bytes(1, 100000);
  struct stat attr {};
  Mount& m = w.begin();
  copy_file(w.checkpoint_dir() + "/data.mdb", w.dir + "/data.mdb.before");
  close_file(m, "a", data, 0640, &attr);
  w.end();
  copy_file(w.dir + "/data.mdb.before", w.checkpoint_dir() + "/data.mdb");  // the commit is undone
  w.recover();
  if (w.object("a") != data) fail_msg("a: the closed file is not in the bucket after its record was rolled back");
  const std::map<std::string, std::string> want = {{"mode", std::to_string(S_IFREG | 0640)},
                                                   {"uid", "1234"},
                                                   {"gid", "4321"},
                                                   {"mtime", std::to_string(attr.st_mtim.tv_sec)}};
  for (const auto& [k, v] : want)
    if (w.meta("a", k.c_str()) != v)
      fail_msg(
          "a: re-queued from its closed mark after data.mdb lost its record, the object has %s '%s', "
          "the closed file had '%s' (the mark must carry the object metadata)",
          k.c_str(), w.meta("a", k.c_str()).c_str(), v.c_str());
}

// (b) The mark is durable, the data is not (and the record never committed).
void test_marked_short_file_does_not_replace_good_version(void** state) {
  World& w = world(state);
  const std::string v1 = make_bytes(2, 150000), v2 = make_bytes(3, 200000);
  w.bucket.put_object("a", v1, {{"mode", "33188"}, {"uid", "1000"}, {"gid", "1000"}, {"mtime", "1600000000"}});
  Mount& m = w.begin();
  copy_file(w.checkpoint_dir() + "/data.mdb", w.dir + "/data.mdb.before");
  fs::Entry e;
  assert_int_equal(m.filesystem->lookup(fs::kRootIno, "a", &e), 0);
  uint64_t fh = 0;
  assert_int_equal(m.filesystem->open(e.ino, O_WRONLY | O_TRUNC, &fh), 0);
  size_t n = 0;
  assert_int_equal(m.filesystem->write(fh, 0, v2.data(), v2.size(), &n), 0);
  assert_int_equal(m.filesystem->flush(fh), 0);
  w.end();
  // The power cut: the mark made it, half of the data and the record did not.
  const std::string staged = w.staged_file_of("a");
  assert_int_equal(::truncate(staged.c_str(), static_cast<off_t>(v2.size() / 2)), 0);
  copy_file(w.dir + "/data.mdb.before", w.checkpoint_dir() + "/data.mdb");
  w.recover();
  const std::string got = w.object("a");
  if (got != v1 && got != v2)
    fail_msg(
        "a: the bucket now holds %zu bytes that no close produced (a staging file marked closed whose data "
        "was short replaced the last good version of %zu bytes)",
        got.size(), v1.size());
}

// (c) Two closed generations of each key, staged and marked, no records.
void test_two_marked_generations_one_upload_newest_wins(void** state) {
  World& w = world(state);
  w.begin();  // the cache dir layout
  w.end();
  auto staging = stage::StagingArea::open(w.staging_dir(), 0);
  assert_true(staging.ok());
  std::map<std::string, std::string> newest;
  for (int k = 0; k < 16; ++k) {
    const std::string key = "k" + std::to_string(k);
    for (uint64_t gen = 1; gen <= 2; ++gen) {
      auto f = (*staging)->create();
      assert_true(f.ok());
      std::string data = make_bytes(100 * k + gen, 20000 + 1000 * k + gen);
      assert_int_equal(::pwrite(f->fd.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
      stage::ClosedMark mark;
      mark.key = key;
      mark.generation = gen;
      assert_int_equal((*staging)->mark_closed(f->path, f->fd.get(), &mark), 0);
      if (gen == 2) newest[key] = data;
    }
  }
  w.recover();
  for (const auto& [key, data] : newest) {
    if (w.puts[key] != 1)
      fail_msg("%s: %d uploads during recovery from two marked generations (one key, one upload job)", key.c_str(),
               w.puts[key]);
    if (w.object(key) != data)
      fail_msg("%s: the bucket holds %s, not generation 2 (the highest generation wins)", key.c_str(),
               w.object(key) == "<absent>" ? "nothing" : "another version");
  }
}

// (d) A crash between the two transactions of a rename of a pending file.
void test_record_under_both_names_uploads_one(void** state) {
  World& w = world(state);
  const std::string data = make_bytes(4, 90000);
  close_file(w.begin(), "a", data);
  w.end();
  {
    // A record under each name for the same staging file (an older bucketfs
    // moved the record in two transactions; here both survive), and the mark
    // already names the new key: the mark decides.
    const std::string staged = w.staged_file_of("a");
    auto staging = stage::StagingArea::open(w.staging_dir(), 0);
    assert_true(staging.ok());
    stage::StagedEntry e = (*staging)->read_entry(staged);
    assert_int_equal(static_cast<int>(e.state), static_cast<int>(stage::MarkState::Valid));
    auto cp = checkpoint::CheckpointStore::open(w.checkpoint_dir(), false);
    assert_true(cp.ok());
    upload::ClosedFile f{staged, e.mark};
    assert_true((*cp)->put(upload::fresh_record(f, "")).ok());
    e.mark.key = "b";
    e.mark.generation += 1;
    assert_int_equal((*staging)->rewrite_mark(staged, e.mark), 0);
    f.mark = e.mark;
    assert_true((*cp)->put(upload::fresh_record(f, "")).ok());
  }
  w.recover();
  const bool a = w.object("a") == data, b = w.object("b") == data;
  if (a && b) fail_msg("the renamed file is in the bucket under both its old name a and its new name b");
  if (!a && !b) fail_msg("the renamed file is in the bucket under neither a nor b");
}

// (e) A superseded generation's staging file comes back: its removal at the
// next close is not synced, so a power cut before the newer version is
// confirmed may keep it (legal: the removal becomes durable only with the
// directory sync that precedes the newer mark's drop). The newer closed
// version must still win, and the older one must never land.
// (An unlink's own removal is synced before unlink returns; the power-loss
// harness checks that from the trace, crash_check.)
void test_superseded_staging_file_back_never_wins(void** state) {
  World& w = world(state);
  Mount& m = w.begin();
  const std::string v1 = make_bytes(5, 70000), v2 = make_bytes(6, 50000);
  fs::Context ctx{1234, 4321, 0};
  // write_version: a whole close (the last writer's flush and release)
  auto write_version = [&](const std::string& data) {
    fs::Entry e;
    uint64_t fh = 0;
    assert_int_equal(m.filesystem->create(fs::kRootIno, "a", S_IFREG | 0640, O_WRONLY | O_TRUNC, ctx, &e, &fh), 0);
    size_t n = 0;
    assert_int_equal(m.filesystem->write(fh, 0, data.data(), data.size(), &n), 0);
    assert_int_equal(m.filesystem->flush(fh), 0);
    assert_int_equal(m.filesystem->release(fh), 0);
  };
  write_version(v1);
  const std::string staged1 = w.staged_file_of("a");
  // Another name for the inode: what the power cut brings back is this inode.
  assert_int_equal(::link(staged1.c_str(), (w.dir + "/saved").c_str()), 0);
  write_version(v2);
  w.end();
  if (!fsys::exists(staged1)) assert_int_equal(::rename((w.dir + "/saved").c_str(), staged1.c_str()), 0);
  w.recover();
  if (w.object("a") != v2)
    fail_msg("a: the bucket holds %s, not the last closed version (the superseded one came back and won)",
             w.object("a") == v1 ? "the older version" : "something else");
  if (w.puts["a"] != 1) fail_msg("a: %d uploads during recovery (one key, one upload job)", w.puts["a"]);
}

}  // namespace

int main() {
  bucketfs::log::set_level(bucketfs::log::Level::Warn);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rolled_back_record_keeps_metadata, setup, teardown),
      cmocka_unit_test_setup_teardown(test_marked_short_file_does_not_replace_good_version, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_marked_generations_one_upload_newest_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_under_both_names_uploads_one, setup, teardown),
      cmocka_unit_test_setup_teardown(test_superseded_staging_file_back_never_wins, setup, teardown),
  };
  return cmocka_run_group_tests_name("crash_states", tests, nullptr, nullptr);
}
