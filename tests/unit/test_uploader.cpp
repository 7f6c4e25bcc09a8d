// test_uploader.cpp - part planning, and the Uploader over MemoryObjectStore with
// FaultyObjectStore "crashing" the process at every step boundary: a resume
// must give the identical object and re-send no part the server already had.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/faulty_object_store.hpp"
#include "bucketfs/store/memory_object_store.hpp"
#include "bucketfs/upload/uploader.hpp"

using namespace bucketfs;
using namespace bucketfs::upload;
namespace fsys = std::filesystem;

namespace {

constexpr uint64_t kPart = 4096;

struct World {
  std::string dir;
  store::MemoryObjectStore mem{kPart};
  std::unique_ptr<checkpoint::CheckpointStore> cp;
  std::unique_ptr<stage::StagingArea> staging;

  World() {
    char tmpl[] = "/tmp/bucketfs-uploader-XXXXXX";
    dir = ::mkdtemp(tmpl);
    reopen_cp();
    staging = std::move(stage::StagingArea::open(dir + "/staging", 0).value());
  }
  ~World() {
    cp.reset();
    fsys::remove_all(dir);
  }
  void reopen_cp() {
    cp.reset();
    cp = std::move(checkpoint::CheckpointStore::open(dir + "/cp", false).value());
  }
  // Stages `size` random bytes for key; returns the record a close would submit.
  checkpoint::UploadRecord stage_file(const std::string& key, uint64_t size, unsigned seed, std::string* data) {
    auto f = staging->create().value();
    std::mt19937 rng(seed);
    data->resize(size);
    for (auto& c : *data) c = static_cast<char>(rng());
    if (size > 0 && ::write(f.fd, data->data(), size) != static_cast<ssize_t>(size)) abort();
    ::fsync(f.fd);
    struct stat st;
    ::fstat(f.fd, &st);
    ::close(f.fd);
    checkpoint::UploadRecord r;
    r.key = key;
    r.staging_path = f.path;
    r.size = size;
    r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    r.generation = 1;
    r.meta["mode"] = "33188";
    return r;
  }
};

UploaderConfig cfg(unsigned concurrency = 1) {
  UploaderConfig c;
  c.bucket = "b";
  c.part_size = kPart;
  c.concurrency = concurrency;
  c.retry_base = std::chrono::milliseconds(5);
  c.retry_cap = std::chrono::milliseconds(20);
  return c;
}

bool wait_idle(Uploader& u, int ms = 10000) {
  for (int i = 0; i < ms / 5; ++i) {
    if (u.idle()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

int setup(void** state) {
  *state = new World();
  return 0;
}
int teardown(void** state) {
  delete static_cast<World*>(*state);
  return 0;
}

void test_plan_edges(void**) {
  const uint64_t MiB = 1 << 20, P = 8 * MiB, MIN = 5 * MiB;
  auto p0 = plan_parts(0, P, MIN);
  assert_false(p0.multipart);
  assert_int_equal(p0.count, 1);
  auto one = plan_parts(P, P, MIN);  // exactly one part: one PUT
  assert_false(one.multipart);
  auto over = plan_parts(P + 1, P, MIN);
  assert_true(over.multipart);
  assert_int_equal(over.count, 2);
  assert_int_equal(over.length(1), P);
  assert_int_equal(over.length(2), 1);
  auto small = plan_parts(20 * MiB, 1 * MiB, MIN);  // part size never below the dialect minimum
  assert_int_equal(small.part_size, MIN);
  assert_int_equal(small.count, 4);
  auto exact = plan_parts(10000 * P, P, MIN);  // 10,000 parts fit
  assert_int_equal(exact.count, 10000);
  assert_int_equal(exact.part_size, P);
  auto big = plan_parts(10001 * P, P, MIN);  // 10,001 parts' worth: parts grow
  assert_true(big.count <= kMaxParts);
  assert_true(big.part_size > P);
  assert_int_equal(big.part_size % MiB, 0);
  uint64_t sum = 0;
  for (uint32_t n = 1; n <= big.count; ++n) sum += big.length(n);
  assert_true(sum == 10001 * P);
}

void test_single_put_and_multipart(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(4));
  u.start();
  std::string small, big;
  auto r1 = w->stage_file("dir/small", 100, 1, &small);
  auto r2 = w->stage_file("dir/big", 10 * kPart + 7, 2, &big);
  assert_true(u.submit(r1).ok());
  assert_true(u.submit(r2).ok());
  assert_int_equal(u.wait("dir/small", 1), 0);
  assert_int_equal(u.wait("dir/big", 1), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("dir/small") == small);
  assert_true(*w->mem.object_data("dir/big") == big);
  assert_string_equal(w->mem.object_info("dir/big")->meta["mode"].c_str(), "33188");
  assert_int_equal(w->mem.calls("put"), 1);
  assert_int_equal(w->mem.calls("upload_part"), 11);
  assert_int_equal(w->mem.calls("complete_multipart"), 1);
  // Records dropped and staging files removed only after the objects landed.
  auto all = w->cp->load_all();
  assert_true(all.ok());
  assert_int_equal(all->good.size(), 0);
  assert_false(fsys::exists(r1.staging_path));
  assert_false(fsys::exists(r2.staging_path));
}

void test_transient_failures_retry(void** state) {
  auto* w = static_cast<World*>(*state);
  store::FaultyObjectStore faulty(w->mem);
  faulty.fail_next("upload_part", 3, store::Error{store::ErrorCode::Transient, 503, "SlowDown", "", ""});
  Uploader u(faulty, *w->cp, *w->staging, cfg(2));
  u.start();
  std::string data;
  auto r = w->stage_file("retry", 5 * kPart, 3, &data);
  assert_true(u.submit(r).ok());
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("retry") == data);
}

void test_fsync_wait_reports_failure(void** state) {
  auto* w = static_cast<World*>(*state);
  store::FaultyObjectStore faulty(w->mem);
  faulty.fail_next("put", 1000, store::Error{store::ErrorCode::AccessDenied, 403, "AccessDenied", "", ""});
  auto c = cfg(1);
  c.retry_base = std::chrono::milliseconds(50);
  Uploader u(faulty, *w->cp, *w->staging, c);
  u.start();
  std::string data;
  auto r = w->stage_file("denied", 10, 4, &data);
  assert_true(u.submit(r).ok());
  assert_int_equal(u.wait("denied", 1), EIO);
  // The file stays pending, with its error recorded, and is not dropped.
  auto rec = w->cp->get("denied");
  assert_true(rec.ok() && rec->has_value());
  assert_true((*rec)->attempts >= 1);
  assert_non_null(strstr((*rec)->last_error.c_str(), "AccessDenied"));
  assert_true(fsys::exists(r.staging_path));
  u.stop(std::chrono::seconds(5));
}

// Runs one crash scenario: the k-th store call is the last before the "crash".
// Returns the number of parts the resumed run sent, or -1 on a wrong object.
int crash_and_resume(World* w, int k, bool after_inner, bool list_parts, int* server_parts_before) {
  store::Capabilities caps;
  caps.list_parts = list_parts;
  w->mem.set_capabilities(caps);
  std::string data;
  std::string key = "crash-" + std::to_string(k) + (after_inner ? "-after" : "-before");
  auto rec = w->stage_file(key, 4 * kPart + 100, static_cast<unsigned>(k), &data);  // 5 parts
  {
    store::FaultyObjectStore faulty(w->mem);
    faulty.crash_after(k, after_inner);
    auto c = cfg(1);
    c.retry_base = std::chrono::hours(1);  // after the crash nothing more happens
    Uploader u(faulty, *w->cp, *w->staging, c);
    u.start();
    if (!u.submit(rec).ok()) return -2;
    for (int i = 0; i < 2000 && !faulty.crashed() && !u.idle(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    u.stop(std::chrono::seconds(10));
  }
  *server_parts_before = w->mem.calls("upload_part");
  w->reopen_cp();  // a new process opens the store
  w->mem.reset_counters();
  store::FaultyObjectStore healthy(w->mem);
  Uploader u2(healthy, *w->cp, *w->staging, cfg(1));
  auto rep = u2.resume();
  if (!rep.ok()) return -3;
  u2.start();
  if (!wait_idle(u2)) return -4;
  auto got = w->mem.object_data(key);
  if (!got || *got != data) return -1;
  auto left = w->cp->get(key);
  if (!left.ok() || left->has_value()) return -5;  // record must be gone
  if (fsys::exists(rec.staging_path)) return -6;
  return w->mem.calls("upload_part");
}

void crash_campaign(World* w, bool list_parts) {
  // Clean run: create, 5 parts, complete, head = 8 calls. Crash after each.
  for (int k = 1; k <= 8; ++k) {
    for (int after = 0; after <= 1; ++after) {
      w->mem.reset_counters();
      int before = 0;
      int resent = crash_and_resume(w, k, after == 1, list_parts, &before);
      if (resent < 0)
        fprintf(stderr, "crash at call %d (%s inner): failure code %d\n", k, after ? "after" : "before", resent);
      assert_true(resent >= 0);
      // Parts the server accepted before the crash: calls 2..k (the k-th only if it reached the server).
      int accepted = std::max(0, std::min(5, k - 1 - (after ? 0 : 1)));
      int allowed = 5 - accepted;
      if (!list_parts && after == 1 && k >= 2 && k <= 6) allowed += 1;  // the part whose answer was lost
      if (resent > allowed)
        fprintf(stderr, "crash at call %d (%s inner, list_parts=%d): resent %d parts, allowed %d\n", k,
                after ? "after" : "before", list_parts, resent, allowed);
      assert_true(resent <= allowed);
    }
  }
}

void test_crash_at_every_step_with_list_parts(void** state) { crash_campaign(static_cast<World*>(*state), true); }
void test_crash_at_every_step_without_list_parts(void** state) {
  crash_campaign(static_cast<World*>(*state), false);
}

void test_changed_staging_file_is_not_uploaded(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto rec = w->stage_file("changed", 3 * kPart, 9, &data);
  assert_true(w->cp->put(rec).ok());  // as if closed, then the process died
  // Someone edits the staged file behind bucketfs's back.
  int fd = ::open(rec.staging_path.c_str(), O_WRONLY | O_APPEND);
  assert_true(::write(fd, "x", 1) == 1);
  ::close(fd);
  Uploader u(w->mem, *w->cp, *w->staging, cfg());
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->failed, 1);
  u.start();
  assert_true(wait_idle(u));
  assert_false(w->mem.object_data("changed").has_value());
  auto failed = w->cp->load_failed();
  assert_true(failed.ok());
  assert_int_equal(failed->size(), 1);
  assert_true(fsys::exists(rec.staging_path));  // nothing deleted
}

void test_reopen_cancels_and_new_generation_wins(void** state) {
  auto* w = static_cast<World*>(*state);
  store::FaultyObjectStore slow(w->mem);
  Uploader u(slow, *w->cp, *w->staging, cfg(2));
  u.start();
  std::string v1;
  auto r1 = w->stage_file("gen", 8 * kPart, 11, &v1);
  assert_true(u.submit(r1).ok());
  u.cancel("gen", false);  // reopened for writing
  // New bytes into the same staging file, closed again as generation 2.
  std::string v2(9 * kPart, 'z');
  int fd = ::open(r1.staging_path.c_str(), O_WRONLY | O_TRUNC);
  assert_true(::write(fd, v2.data(), v2.size()) == static_cast<ssize_t>(v2.size()));
  ::close(fd);
  auto r2 = r1;
  r2.generation = 2;
  r2.size = v2.size();
  assert_true(u.submit(r2).ok());
  assert_int_equal(u.wait("gen", 2), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("gen") == v2);
  assert_int_equal(w->mem.open_upload_count(), 0);  // the cancelled upload was aborted
}

void test_unlink_pending_drops_record(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  std::string data;
  auto r = w->stage_file("gone", 6 * kPart, 12, &data);
  assert_true(u.submit(r).ok());  // not started: stays queued
  u.cancel("gone", true);
  u.start();
  assert_true(wait_idle(u));
  assert_false(w->mem.object_data("gone").has_value());
  auto rec = w->cp->get("gone");
  assert_true(rec.ok() && !rec->has_value());
}

void test_retarget_pending(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  std::string data;
  auto r = w->stage_file("old/name", 3 * kPart, 13, &data);
  assert_true(u.submit(r).ok());
  auto moved = u.retarget("old/name", "new/name");
  assert_true(moved.ok() && *moved);
  std::string sidecar_key;
  assert_true(stage::StagingArea::read_key(r.staging_path, &sidecar_key));
  assert_string_equal(sidecar_key.c_str(), "new/name");
  u.start();
  assert_true(wait_idle(u));
  assert_false(w->mem.object_data("old/name").has_value());
  assert_true(*w->mem.object_data("new/name") == data);
}

// Nothing in flight: retarget says so, and the completed object stays where it
// is (the Filesystem moves it in the bucket).
void test_retarget_after_completion(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  std::string data;
  auto r = w->stage_file("landed", 2 * kPart, 15, &data);
  assert_true(u.submit(r).ok());
  u.start();
  assert_true(wait_idle(u));
  auto moved = u.retarget("landed", "elsewhere");
  assert_true(moved.ok());
  assert_false(*moved);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("landed") == data);
  assert_false(w->mem.object_data("elsewhere").has_value());
  auto rec = w->cp->get("elsewhere");
  assert_true(rec.ok() && !rec->has_value());
}

// A record waiting for the next commit (its upload cancelled by a metadata
// change) moves to the new key, sidecar too: a crash now resumes it there.
void test_retarget_moves_waiting_record(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  std::string data;
  auto r = w->stage_file("waiting", 2 * kPart, 16, &data);
  assert_true(u.submit(r).ok());
  u.cancel("waiting", false);  // the record stays
  auto moved = u.retarget("waiting", "renamed");
  assert_true(moved.ok());
  assert_false(*moved);
  auto old_rec = w->cp->get("waiting");
  assert_true(old_rec.ok() && !old_rec->has_value());
  auto new_rec = w->cp->get("renamed");
  assert_true(new_rec.ok() && new_rec->has_value());
  assert_string_equal((*new_rec)->staging_path.c_str(), r.staging_path.c_str());
  std::string sidecar_key;
  assert_true(stage::StagingArea::read_key(r.staging_path, &sidecar_key));
  assert_string_equal(sidecar_key.c_str(), "renamed");
}

// The upload completes under the old key while retarget waits for its last
// request: retarget reports that nothing moved, and uploads nothing again.
void test_retarget_while_completing(void** state) {
  auto* w = static_cast<World*>(*state);
  std::mutex mu;  // before u: the done handler uses them until u is gone
  std::condition_variable cv;
  bool in_done = false;
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  u.set_done_handler([&](const UploadOutcome&) {
    {
      std::lock_guard l(mu);
      in_done = true;
    }
    cv.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // retarget arrives meanwhile
  });
  std::string data;
  auto r = w->stage_file("racing", 3 * kPart, 17, &data);
  assert_true(u.submit(r).ok());
  u.start();
  {
    std::unique_lock l(mu);
    assert_true(cv.wait_for(l, std::chrono::seconds(10), [&] { return in_done; }));
  }
  auto moved = u.retarget("racing", "moved");
  assert_true(moved.ok());
  assert_false(*moved);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("racing") == data);
  assert_false(w->mem.object_data("moved").has_value());
  auto rec = w->cp->get("moved");
  assert_true(rec.ok() && !rec->has_value());
}

void test_aborted_upload_restarts(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto rec = w->stage_file("aborted", 5 * kPart, 14, &data);
  // A previous run created the upload and sent 2 parts, then someone aborted it.
  auto id = w->mem.create_multipart("aborted", {}).value();
  int fd = ::open(rec.staging_path.c_str(), O_RDONLY);
  for (int n = 1; n <= 2; ++n) {
    auto p = w->mem.upload_part("aborted", id, n, {fd, (n - 1) * kPart, kPart}).value();
    rec.parts.push_back({n, kPart, p.etag, p.md5});
  }
  ::close(fd);
  rec.upload_id = id;
  rec.part_size = kPart;
  rec.state = checkpoint::UploadState::Uploading;
  assert_true(w->cp->put(rec).ok());
  assert_true(w->mem.abort_multipart("aborted", id).ok());
  w->mem.reset_counters();
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  assert_true(u.resume().ok());
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("aborted") == data);
  assert_int_equal(w->mem.calls("create_multipart"), 1);
  assert_int_equal(w->mem.calls("upload_part"), 5);
}

void test_resume_staging_leftovers(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string closed, never, old;
  // A closed file whose record was lost: re-queued from its sidecar.
  auto a = w->stage_file("lost-record", 2 * kPart, 21, &closed);
  assert_int_equal(w->staging->mark_closed(a.staging_path, a.key, 5), 0);
  // A file that was never closed (no sidecar): removed, never uploaded.
  auto b = w->stage_file("never-closed", 100, 22, &never);
  // An older closed generation of a key whose newer record exists: removed.
  auto c = w->stage_file("versioned", 100, 23, &old);
  assert_int_equal(w->staging->mark_closed(c.staging_path, c.key, 7), 0);
  std::string newer;
  auto d = w->stage_file("versioned", 200, 24, &newer);
  d.generation = 8;
  assert_int_equal(w->staging->mark_closed(d.staging_path, d.key, 8), 0);
  assert_true(w->cp->put(d).ok());

  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 1);
  assert_int_equal(rep->unrecorded_requeued, 1);
  assert_int_equal(rep->removed, 2);
  assert_false(fsys::exists(b.staging_path));
  assert_false(fsys::exists(c.staging_path));
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("lost-record") == closed);
  assert_true(*w->mem.object_data("versioned") == newer);
  assert_false(w->mem.object_data("never-closed").has_value());
  // Uploaded files keep no sidecar, so a leftover is never mistaken for a closed file.
  assert_false(fsys::exists(a.staging_path));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_edges),
      cmocka_unit_test_setup_teardown(test_single_put_and_multipart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_transient_failures_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fsync_wait_reports_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_at_every_step_with_list_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_at_every_step_without_list_parts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_changed_staging_file_is_not_uploaded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_cancels_and_new_generation_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unlink_pending_drops_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retarget_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retarget_after_completion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retarget_moves_waiting_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retarget_while_completing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aborted_upload_restarts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resume_staging_leftovers, setup, teardown),
  };
  return cmocka_run_group_tests_name("uploader", tests, nullptr, nullptr);
}
