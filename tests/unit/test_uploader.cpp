// test_uploader.cpp - part planning, and the Uploader over MemoryObjectStore with
// FaultyObjectStore "crashing" the process at every step boundary: a resume
// must give the identical object and re-send no part the server already had.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
extern "C" {
#include <cmocka.h>
}

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/stage/closed_mark.hpp"
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
  // Stages `size` random bytes for key and closes them (durable data and
  // mark), as a close does; returns what it would submit.
  ClosedFile stage_file(const std::string& key, uint64_t size, unsigned seed, std::string* data,
                        uint64_t generation = 1) {
    auto f = staging->create().value();
    std::mt19937 rng(seed);
    data->resize(size);
    for (auto& c : *data) c = static_cast<char>(rng());
    if (size > 0 && ::write(f.fd.get(), data->data(), size) != static_cast<ssize_t>(size)) abort();
    ClosedFile cf;
    cf.staging_path = f.path;
    cf.mark.key = key;
    cf.mark.generation = generation;
    cf.mark.meta["mode"] = "33188";
    if (staging->mark_closed(f.path, f.fd.get(), &cf.mark) != 0) abort();
    return cf;
  }
  // The record a previous run would have written for f once it had progress.
  checkpoint::UploadRecord record_of(const ClosedFile& f) { return fresh_record(f, "b"); }
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
  // Small files never needed a record: the mark carried them.
  assert_true(w->staging->scan().empty());
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

bool wait_for(const std::function<bool()>& cond, int ms = 10000) {
  for (int i = 0; i < ms / 5; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// An error that will not heal spends its class's budget (auth: three failed
// passes after the first): the upload gives up into the failed table with a
// reason, keeps its staged file and mark, and `bucketfs retry` (its request
// file) sends it again once the cause is fixed.
void test_budget_spent_then_retry(void** state) {
  auto* w = static_cast<World*>(*state);
  store::FaultyObjectStore faulty(w->mem);
  const store::Error denied{store::ErrorCode::AccessDenied, 403, "AccessDenied", "", ""};
  faulty.fail_next("create_multipart", 1000, denied);
  auto c = cfg(2);
  c.retry_request_file = w->dir + "/retry.request";
  Uploader u(faulty, *w->cp, *w->staging, c);
  u.start();
  std::string data;
  auto r = w->stage_file("gives/up", 3 * kPart, 61, &data);
  assert_true(u.submit(r).ok());
  auto failed_reason = [&]() -> std::string {
    auto f = w->cp->load_failed();
    if (!f.ok()) return "";
    for (const auto& rec : *f)
      if (rec.key == "gives/up") return rec.last_error;
    return "";
  };
  assert_true(wait_for([&] { return !failed_reason().empty(); }));
  const std::string why = failed_reason();
  assert_non_null(strstr(why.c_str(), "gave up after 4"));
  assert_non_null(strstr(why.c_str(), "check the bucket policy"));
  assert_non_null(strstr(why.c_str(), "bucketfs retry"));
  // Given up: no more requests, nothing deleted, not in the uploads table.
  const int calls = faulty.calls();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  assert_int_equal(faulty.calls(), calls);
  assert_true(fsys::exists(r.staging_path));
  assert_int_equal(w->staging->scan().size(), 1);
  assert_false(w->cp->get("gives/up")->has_value());
  assert_int_equal(u.wait("gives/up", 1), EIO);
  // The cause fixed, a retry request for another key changes nothing...
  faulty.fail_next("create_multipart", 0, denied);
  { std::ofstream(c.retry_request_file) << "other/key\n"; }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  assert_false(failed_reason().empty());
  assert_false(w->mem.object_data("gives/up").has_value());
  // ...and one for this key (or "*") sends it.
  { std::ofstream(c.retry_request_file) << "gives/up\n"; }
  assert_true(wait_for([&] { return w->mem.object_data("gives/up").has_value(); }, 15000));
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("gives/up") == data);
  assert_true(failed_reason().empty());
  assert_false(fsys::exists(r.staging_path));
  assert_false(fsys::exists(c.retry_request_file));
}

// A budget spent, then the process ends: the next mount tries the upload
// again with the progress kept in its failed record (no part re-sent).
void test_given_up_upload_resumes_at_mount(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto r = w->stage_file("later", 4 * kPart, 62, &data);
  {
    store::FaultyObjectStore faulty(w->mem);
    faulty.fail_next("complete_multipart", 1000,
                     store::Error{store::ErrorCode::InvalidArgument, 400, "InvalidPart", "", ""});
    Uploader u(faulty, *w->cp, *w->staging, cfg(2));
    u.start();
    assert_true(u.submit(r).ok());
    assert_true(wait_for([&] {
      auto f = w->cp->load_failed();
      return f.ok() && f->size() == 1;
    }));
    u.stop(std::chrono::seconds(5));
    assert_int_equal(w->mem.calls("upload_part"), 4);
  }
  w->reopen_cp();
  Uploader u2(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u2.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 1);
  assert_true(w->cp->load_failed()->empty());
  u2.start();
  assert_true(wait_idle(u2));
  assert_true(*w->mem.object_data("later") == data);
  assert_int_equal(w->mem.calls("upload_part"), 4);  // none sent again
  assert_int_equal(w->mem.open_upload_count(), 0);
}

// --- upload while writing (open_stream) ---------------------------------------

// A file still open for writing: its bytes written, its finished parts sent.
struct OpenFile {
  stage::StagedFile f;
  std::string data;
};

OpenFile write_open_file(World* w, uint64_t size, unsigned seed) {
  OpenFile o{w->staging->create().value(), std::string(size, '\0')};
  std::mt19937 rng(seed);
  for (auto& c : o.data) c = static_cast<char>(rng());
  if (::pwrite(o.f.fd.get(), o.data.data(), size, 0) != static_cast<ssize_t>(size)) abort();
  return o;
}

ClosedFile close_open_file(World* w, OpenFile& o, const std::string& key, uint64_t generation = 1) {
  ClosedFile cf;
  cf.staging_path = o.f.path;
  cf.mark.key = key;
  cf.mark.generation = generation;
  cf.mark.meta = {{"mode", "33188"}, {"mtime", "1700000000"}};
  if (w->staging->mark_closed(o.f.path, o.f.fd.get(), &cf.mark) != 0) abort();
  return cf;
}

const store::Metadata kStreamMeta{{"mode", "33188"}, {"mtime", "1600000000"}};

// The parts sent while the file was open are the closed file's: the close
// adopts the stream and only the last part is sent after it.
void test_stream_adopted_at_close(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  u.start();
  auto o = write_open_file(w, 5 * kPart + 100, 71);
  const uint64_t id = u.open_stream("s/one", o.f.path, kStreamMeta);
  assert_true(id != 0);
  assert_int_equal(u.open_stream("s/one", o.f.path, kStreamMeta), 0);  // one job per key
  for (uint32_t n = 1; n <= 5; ++n) u.stream_part("s/one", id, n, 0);
  assert_true(wait_for([&] { return w->mem.calls("upload_part") == 5; }));
  // Never completed while open; its record describes no closed file.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  assert_int_equal(w->mem.calls("complete_multipart"), 0);
  assert_true(u.pending().empty());
  auto rec = w->cp->get("s/one");
  assert_true(rec.ok() && rec->has_value());
  assert_int_equal((*rec)->generation, 0);
  auto cf = close_open_file(w, o, "s/one");
  StreamHandoff h{id, std::vector<uint64_t>(6, 0)};
  assert_true(u.submit(cf, std::chrono::milliseconds(0), &h).ok());
  assert_int_equal(u.wait("s/one", 1), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s/one") == o.data);
  assert_int_equal(w->mem.calls("upload_part"), 6);
  assert_int_equal(w->mem.calls("create_multipart"), 1);
  assert_int_equal(w->mem.open_upload_count(), 0);
  // The upload was created with the times of the open file; the object ends
  // with the closed file's (one copy onto itself).
  auto info = w->mem.object_info("s/one");
  assert_string_equal(info->meta["mode"].c_str(), "33188");
  assert_string_equal(info->meta["mtime"].c_str(), "1700000000");
  assert_int_equal(w->mem.calls("copy"), 1);
  assert_false(fsys::exists(o.f.path));
}

// A part written again after it was sent (its version changed) is sent again
// from the closed file, also when the change comes while it is in flight.
void test_stream_changed_part_sent_again(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  u.start();
  auto o = write_open_file(w, 4 * kPart + 1, 72);
  const uint64_t id = u.open_stream("s/two", o.f.path, kStreamMeta);
  assert_true(id != 0);
  for (uint32_t n = 1; n <= 4; ++n) u.stream_part("s/two", id, n, 0);
  assert_true(wait_for([&] { return w->mem.calls("upload_part") == 4; }));
  // Part 2 changes (version 1) before the close.
  for (size_t i = kPart; i < 2 * kPart; ++i) o.data[i] = static_cast<char>(o.data[i] ^ 0x5a);
  if (::pwrite(o.f.fd.get(), o.data.data() + kPart, kPart, kPart) != static_cast<ssize_t>(kPart)) abort();
  auto cf = close_open_file(w, o, "s/two");
  StreamHandoff h{id, {0, 1, 0, 0, 0}};
  assert_true(u.submit(cf, std::chrono::milliseconds(0), &h).ok());
  assert_int_equal(u.wait("s/two", 1), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s/two") == o.data);
  assert_int_equal(w->mem.calls("upload_part"), 6);  // 4 while open, part 2 again, part 5
  assert_int_equal(w->mem.open_upload_count(), 0);
}

// --- parts hashed ahead (Uploader::presum) ------------------------------------

// Sent parts are recorded without a worker waiting behind another's
// checkpoint write (Uploader::record_progress): the worker that holds the
// job's record writes it again until no part came in meanwhile, and the
// others go on. However the eight workers finish, the record must name
// every part sent by the time the complete goes (run_complete writes what is
// still marked): looked at from inside complete_multipart.
void test_progress_recorded_by_one_writer(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(8));
  constexpr size_t kParts = 96;
  std::string data;
  auto f = w->stage_file("rec/many", kParts * kPart, 91, &data);
  size_t recorded = 0;
  bool completed = false;
  w->mem.set_observer([&](const store::MemoryObjectStore::Change& c) {
    if (std::string(c.op) != "complete_multipart") return;
    completed = true;
    auto all = w->cp->load_all();
    if (all.ok() && all->good.size() == 1) recorded = all->good[0].parts.size();
  });
  u.start();
  assert_true(u.submit(f).ok());
  assert_int_equal(u.wait("rec/many", 1), 0);
  assert_true(wait_idle(u));
  w->mem.set_observer(nullptr);
  assert_true(completed);
  assert_int_equal(recorded, kParts);
  assert_true(*w->mem.object_data("rec/many") == data);
  assert_int_equal(w->mem.calls("upload_part"), static_cast<int>(kParts));
  assert_int_equal(w->cp->load_all()->good.size(), 0);  // dropped once the object landed
}

// On a store that wants Content-MD5, a worker hashes the parts that wait
// together with its own; every part then goes with its MD5 (the store refuses
// a wrong one), and none is sent twice. One worker: each batch runs ahead.
void test_parts_hashed_ahead(void** state) {
  auto* w = static_cast<World*>(*state);
  w->mem.set_wants_md5(true);
  for (unsigned workers : {1u, 4u}) {
    w->mem.reset_counters();
    Uploader u(w->mem, *w->cp, *w->staging, cfg(workers));
    u.start();
    std::string data;
    const std::string key = "ahead/" + std::to_string(workers);
    auto f = w->stage_file(key, 21 * kPart + 77, 90 + workers, &data);
    assert_true(u.submit(f).ok());
    assert_int_equal(u.wait(key, 1), 0);
    assert_true(wait_idle(u));
    assert_true(*w->mem.object_data(key) == data);
    assert_int_equal(w->mem.calls("upload_part"), 22);
    assert_int_equal(w->mem.calls("upload_part_md5_given"), 22);
  }
}

// A part hashed ahead while the file is open, then written again before it is
// sent: the MD5 of the old bytes is not used (the part's write version
// changed), so the part goes once, with the MD5 of its new bytes.
void test_stream_part_hashed_ahead_then_changed(void** state) {
  auto* w = static_cast<World*>(*state);
  w->mem.set_wants_md5(true);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  auto o = write_open_file(w, 4 * kPart + 1, 73);
  const uint64_t id = u.open_stream("s/ahead", o.f.path, kStreamMeta);
  assert_true(id != 0);
  for (uint32_t n = 1; n <= 4; ++n) u.stream_part("s/ahead", id, n, 0);
  // While part 1 is sent, parts 2 to 4 are hashed already: part 3 changes.
  bool changed = false;
  w->mem.set_observer([&](const store::MemoryObjectStore::Change& c) {
    if (changed || std::string(c.op) != "upload_part" || c.part != 1) return;
    changed = true;
    for (size_t i = 2 * kPart; i < 3 * kPart; ++i) o.data[i] = static_cast<char>(o.data[i] ^ 0x3c);
    if (::pwrite(o.f.fd.get(), o.data.data() + 2 * kPart, kPart, 2 * kPart) != static_cast<ssize_t>(kPart))
      abort();
    u.stream_part("s/ahead", id, 3, 1);
  });
  u.start();
  assert_true(wait_for([&] { return w->mem.calls("upload_part") == 4; }));
  assert_true(changed);
  auto cf = close_open_file(w, o, "s/ahead");
  StreamHandoff h{id, {0, 0, 1, 0, 0}};
  assert_true(u.submit(cf, std::chrono::milliseconds(0), &h).ok());
  assert_int_equal(u.wait("s/ahead", 1), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s/ahead") == o.data);
  assert_int_equal(w->mem.calls("upload_part"), 5);  // parts 1 to 4 while open, part 5 after
  assert_int_equal(w->mem.calls("upload_part_md5_given"), 5);
  assert_int_equal(w->mem.open_upload_count(), 0);
  w->mem.set_observer(nullptr);
}

// A stream that cannot be adopted (other metadata at close, or dropped, or a
// failed request) is aborted, and the closed file goes as usual.
void test_stream_not_adopted_is_aborted(void** state) {
  auto* w = static_cast<World*>(*state);
  store::FaultyObjectStore faulty(w->mem);
  Uploader u(faulty, *w->cp, *w->staging, cfg(2));
  u.start();
  // Other metadata at close (a chmod while it was written).
  auto o = write_open_file(w, 3 * kPart + 1, 73);
  uint64_t id = u.open_stream("s/meta", o.f.path, {{"mode", "33261"}});
  for (uint32_t n = 1; n <= 3; ++n) u.stream_part("s/meta", id, n, 0);
  assert_true(wait_for([&] { return w->mem.calls("upload_part") == 3; }));
  auto cf = close_open_file(w, o, "s/meta");
  StreamHandoff h{id, std::vector<uint64_t>(4, 0)};
  assert_true(u.submit(cf, std::chrono::milliseconds(0), &h).ok());
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s/meta") == o.data);
  assert_string_equal(w->mem.object_info("s/meta")->meta["mode"].c_str(), "33188");
  assert_int_equal(w->mem.open_upload_count(), 0);
  // Dropped (the file went before its close).
  auto d = write_open_file(w, 2 * kPart + 1, 74);
  id = u.open_stream("s/drop", d.f.path, kStreamMeta);
  u.stream_part("s/drop", id, 1, 0);
  assert_true(wait_for([&] { return w->mem.open_upload_count() == 1; }));
  u.drop_stream("s/drop", id);
  assert_true(wait_idle(u));
  assert_int_equal(w->mem.open_upload_count(), 0);
  assert_false(w->cp->get("s/drop")->has_value());
  // A failed part ends the stream; the close then uploads the file anew.
  faulty.fail_next("upload_part", 1, store::Error{store::ErrorCode::Transient, 503, "SlowDown", "", ""});
  auto f = write_open_file(w, 3 * kPart + 1, 75);
  id = u.open_stream("s/fail", f.f.path, kStreamMeta);
  u.stream_part("s/fail", id, 1, 0);
  assert_true(wait_for([&] { return u.idle(); }));
  assert_int_equal(w->mem.open_upload_count(), 0);
  auto fc = close_open_file(w, f, "s/fail");
  StreamHandoff fh{id, std::vector<uint64_t>(4, 0)};
  assert_true(u.submit(fc, std::chrono::milliseconds(0), &fh).ok());
  assert_int_equal(u.wait("s/fail", 1), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s/fail") == f.data);
  assert_int_equal(w->mem.open_upload_count(), 0);
}

// The writer killed before close: the next mount finds a stream record that
// describes no closed file, drops it and aborts its multipart upload.
void test_stream_abandoned_is_aborted_at_mount(void** state) {
  auto* w = static_cast<World*>(*state);
  auto o = write_open_file(w, 3 * kPart + 1, 76);
  {
    Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
    u.start();
    const uint64_t id = u.open_stream("s/killed", o.f.path, kStreamMeta);
    for (uint32_t n = 1; n <= 3; ++n) u.stream_part("s/killed", id, n, 0);
    assert_true(wait_for([&] { return w->mem.calls("upload_part") == 3; }));
    u.stop(std::chrono::seconds(5));
  }
  assert_int_equal(w->mem.open_upload_count(), 1);
  w->reopen_cp();
  Uploader u2(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u2.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->stale, 1);
  assert_int_equal(rep->resumed, 0);
  u2.start();
  assert_true(wait_idle(u2));
  assert_int_equal(w->mem.open_upload_count(), 0);
  assert_false(w->mem.object_data("s/killed").has_value());
  assert_false(fsys::exists(o.f.path));  // never closed: nothing was promised
}

// A crash after the close: the adopted record names the streamed parts, and
// the next mount sends only what is missing.
void test_stream_adopted_then_crash_resumes(void** state) {
  auto* w = static_cast<World*>(*state);
  auto o = write_open_file(w, 5 * kPart + 9, 77);
  {
    Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
    u.start();
    const uint64_t id = u.open_stream("s/crash", o.f.path, kStreamMeta);
    for (uint32_t n = 1; n <= 5; ++n) u.stream_part("s/crash", id, n, 0);
    assert_true(wait_for([&] { return w->mem.calls("upload_part") == 5; }));
    auto cf = close_open_file(w, o, "s/crash");
    StreamHandoff h{id, std::vector<uint64_t>(6, 0)};
    assert_true(u.submit(cf, std::chrono::hours(1), &h).ok());  // settles: nothing more before the "crash"
    u.stop(std::chrono::seconds(5));
  }
  w->reopen_cp();
  Uploader u2(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u2.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 1);
  assert_int_equal(rep->with_progress, 1);
  u2.start();
  assert_true(wait_idle(u2));
  assert_true(*w->mem.object_data("s/crash") == o.data);
  assert_string_equal(w->mem.object_info("s/crash")->meta["mtime"].c_str(), "1700000000");
  assert_int_equal(w->mem.calls("upload_part"), 6);
  assert_int_equal(w->mem.open_upload_count(), 0);
}

// Counts the part uploads in flight at once (each takes a few ms).
class SlowPartStore : public store::FaultyObjectStore {
 public:
  using FaultyObjectStore::FaultyObjectStore;
  using ObjectStore::upload_part;
  store::StoreResult<store::PartInfo> upload_part(const std::string& key, const store::MultipartUpload& upload,
                                                  int part_number, const store::FileRange& body,
                                                  const store::BodyChecksums& known) override {
    int now = ++inflight;
    for (int seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto r = FaultyObjectStore::upload_part(key, upload, part_number, body, known);
    --inflight;
    return r;
  }
  std::atomic<int> inflight{0};
  std::atomic<int> peak{0};
};

// Streams kOpenParts parts of an open file through a store whose part
// uploads take 20 ms, then closes it with kAfter parts more; returns the most
// parts in flight at once while the file was open (after: the most after).
constexpr uint32_t kOpenParts = 12, kAfter = 12;
int stream_peak(World* w, const UploaderConfig& c, int* after) {
  SlowPartStore slow(w->mem);
  w->mem.reset_counters();
  Uploader u(slow, *w->cp, *w->staging, c);
  u.start();
  auto o = write_open_file(w, (kOpenParts + kAfter) * kPart + 10, 73);
  const uint64_t id = u.open_stream("s/limited", o.f.path, kStreamMeta);
  assert_true(id != 0);
  for (uint32_t n = 1; n <= kOpenParts; ++n) u.stream_part("s/limited", id, n, 0);
  assert_true(wait_for([&] { return w->mem.calls("upload_part") == static_cast<int>(kOpenParts); }));
  const int open_peak = slow.peak.exchange(0);
  auto cf = close_open_file(w, o, "s/limited");
  StreamHandoff h{id, std::vector<uint64_t>(kOpenParts + kAfter + 2, 0)};
  assert_true(u.submit(cf, std::chrono::milliseconds(0), &h).ok());
  assert_int_equal(u.wait("s/limited", 1), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s/limited") == o.data);
  assert_int_equal(w->mem.calls("upload_part"), static_cast<int>(kOpenParts + kAfter + 1));
  assert_int_equal(w->mem.open_upload_count(), 0);
  *after = slow.peak.load();
  return open_peak;
}

// upload_while_writing_concurrency: while the file is open, no more than that
// many of its parts go at once, however many workers wait; after the close
// the parts left go with all the workers. 0: no limit but the workers.
void test_stream_concurrency_while_open(void** state) {
  auto* w = static_cast<World*>(*state);
  UploaderConfig c = cfg(8);
  int after = 0;
  c.stream_concurrency = 2;
  assert_int_equal(stream_peak(w, c, &after), 2);
  assert_true(after > 2);  // the 13 parts left after close: up to 8 at once
  c.stream_concurrency = 0;
  assert_true(stream_peak(w, c, &after) > 2);
}

// s3rver as published: a Complete that reached the server is answered 500
// when repeated, and the object's ETag is the plain MD5 of its bytes (no
// "-N"). The uploader asks whether the object is already ours (size + the
// whole file's MD5) and finishes instead of retrying forever.
class LostCompleteStore : public store::FaultyObjectStore {
 public:
  using FaultyObjectStore::FaultyObjectStore;
  store::StoreResult<std::string> complete_upload(const std::string& key, const store::MultipartUpload& upload,
                                                  const std::vector<store::PartInfo>& parts) override {
    auto r = FaultyObjectStore::complete_upload(key, upload, parts);
    if (!r) return r;
    return store::Error{store::ErrorCode::Transient, 500, "InternalError", "We encountered an internal error", ""};
  }
};

void test_complete_answered_500_but_done(void** state) {
  auto* w = static_cast<World*>(*state);
  w->mem.set_etag_style(store::MemoryObjectStore::EtagStyle::PlainMultipart);
  LostCompleteStore lost(w->mem);
  Uploader u(lost, *w->cp, *w->staging, cfg(2));
  u.start();
  std::string data;
  auto r = w->stage_file("s3rver/done", 5 * kPart, 63, &data);
  assert_true(u.submit(r).ok());
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("s3rver/done") == data);
  assert_int_equal(w->mem.calls("complete_multipart"), 1);
  assert_true(w->cp->load_failed()->empty());
  assert_false(fsys::exists(r.staging_path));
}

// Planted in the staging dir by someone else (issue 15): a data file that is
// a symlink to a file of the system, with a valid sidecar mark and with a
// legacy .key sidecar, and a checkpoint record naming a file outside the
// staging dir. None of them is uploaded, and the target is untouched.
void test_planted_staging_entries_are_not_uploaded(void** state) {
  auto* w = static_cast<World*>(*state);
  const std::string canary = w->dir + "/canary";
  { std::ofstream(canary) << "root:secret-hash:19000:0:99999:7:::\n"; }
  struct stat cst {};
  assert_int_equal(::stat(canary.c_str(), &cst), 0);
  const std::string sdir = w->staging->dir();
  const std::string name1 = "6b0e0000-1-1-00000001", name2 = "6b0e0000-1-1-00000002";
  assert_int_equal(::symlink(canary.c_str(), (sdir + "/" + name1 + ".data").c_str()), 0);
  stage::ClosedMark m;
  m.key = "stolen/shadow";
  m.generation = 5;
  m.size = static_cast<uint64_t>(cst.st_size);
  m.mtime_ns = static_cast<int64_t>(cst.st_mtim.tv_sec) * 1000000000 + cst.st_mtim.tv_nsec;
  { std::ofstream(sdir + "/" + name1 + ".mark", std::ios::binary) << stage::encode_mark(m); }
  assert_int_equal(::symlink(canary.c_str(), (sdir + "/" + name2 + ".data").c_str()), 0);
  { std::ofstream(sdir + "/" + name2 + ".key") << "stolen/legacy\n6\n"; }
  checkpoint::UploadRecord foreign;
  foreign.key = "foreign/record";
  foreign.bucket = "b";
  foreign.staging_path = canary;
  foreign.size = m.size;
  foreign.mtime_ns = m.mtime_ns;
  foreign.generation = 7;
  assert_true(w->cp->put(foreign).ok());

  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 0);
  u.start();
  assert_true(wait_idle(u));
  assert_false(w->mem.object_data("stolen/shadow").has_value());
  assert_false(w->mem.object_data("stolen/legacy").has_value());
  assert_false(w->mem.object_data("foreign/record").has_value());
  assert_int_equal(w->mem.calls("put") + w->mem.calls("create_multipart"), 0);
  std::ifstream in(canary);
  std::string line;
  std::getline(in, line);
  assert_string_equal(line.c_str(), "root:secret-hash:19000:0:99999:7:::");
  assert_false(w->cp->get("foreign/record")->has_value());  // dropped, never followed
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
  if (w->mem.open_upload_count() != 0) return -7;  // no upload of ours left open, not even a lost create's
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
  auto rec = w->stage_file("changed", 3 * kPart, 9, &data);  // closed, then the process died
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

// A new generation of a key, closed in a new staging file while the older one
// uploads: the older upload is cancelled and aborted, the newer one lands.
void test_new_generation_wins(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  u.start();
  std::string v1, v2;
  auto r1 = w->stage_file("gen", 8 * kPart, 11, &v1, 1);
  assert_true(u.submit(r1).ok());
  auto r2 = w->stage_file("gen", 9 * kPart, 12, &v2, 2);
  assert_true(u.submit(r2).ok());
  assert_true(u.submit(r1).ok());  // an older generation never replaces a newer one
  assert_int_equal(u.wait("gen", 2), 0);
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("gen") == v2);
  assert_int_equal(w->mem.open_upload_count(), 0);  // the cancelled upload was aborted
  assert_int_equal(u.pending().size(), 0);
}

void test_cancel_drops_record(void** state) {
  auto* w = static_cast<World*>(*state);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  std::string data;
  auto r = w->stage_file("gone", 6 * kPart, 12, &data);
  assert_true(u.submit(r).ok());  // not started: stays queued
  assert_int_equal(static_cast<int>(u.cancel("gone")), static_cast<int>(CancelResult::Cancelled));
  assert_int_equal(static_cast<int>(u.cancel("gone")), static_cast<int>(CancelResult::None));
  u.start();
  assert_true(wait_idle(u));
  assert_false(w->mem.object_data("gone").has_value());
  auto rec = w->cp->get("gone");
  assert_true(rec.ok() && !rec->has_value());
}

// A multipart upload cancelled mid-way is aborted, and the abort is queued in
// the store: a crash before it is sent still aborts it at the next mount.
void test_cancel_queues_durable_abort(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto r = w->stage_file("half", 6 * kPart, 31, &data);
  {
    store::FaultyObjectStore faulty(w->mem);
    faulty.fail_next("upload_part", 1000, store::Error{store::ErrorCode::Transient, 503, "SlowDown", "", ""});
    auto c = cfg(1);
    c.retry_base = std::chrono::hours(1);
    Uploader u(faulty, *w->cp, *w->staging, c);
    u.start();
    assert_true(u.submit(r).ok());
    for (int i = 0; i < 2000 && w->mem.open_upload_count() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    assert_int_equal(w->mem.open_upload_count(), 1);
    u.stop(std::chrono::milliseconds(0));  // no worker may send the abort
    assert_int_equal(static_cast<int>(u.cancel("half")), static_cast<int>(CancelResult::Cancelled));
  }
  assert_int_equal(w->mem.open_upload_count(), 1);
  auto queued = w->cp->load_aborts();
  assert_true(queued.ok());
  assert_int_equal(queued->size(), 1);
  w->reopen_cp();
  w->staging->remove(r.staging_path);  // the file was unlinked meanwhile
  Uploader u2(w->mem, *w->cp, *w->staging, cfg(1));
  auto rep = u2.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->aborts, 1);
  u2.start();
  assert_true(wait_idle(u2));
  assert_int_equal(w->mem.open_upload_count(), 0);
  assert_int_equal(w->cp->load_aborts()->size(), 0);
}

// The upload completes while cancel waits for its last request: cancel says
// so, and the object stays (the caller decides what becomes of it).
void test_cancel_while_completing(void** state) {
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
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // cancel arrives meanwhile
  });
  std::string data;
  auto r = w->stage_file("racing", 3 * kPart, 17, &data);
  assert_true(u.submit(r).ok());
  u.start();
  {
    std::unique_lock l(mu);
    assert_true(cv.wait_for(l, std::chrono::seconds(10), [&] { return in_done; }));
  }
  assert_int_equal(static_cast<int>(u.cancel("racing")), static_cast<int>(CancelResult::Completed));
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("racing") == data);
  auto rec = w->cp->get("racing");
  assert_true(rec.ok() && !rec->has_value());
}

void test_aborted_upload_restarts(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto f = w->stage_file("aborted", 5 * kPart, 14, &data);
  auto rec = w->record_of(f);
  // A previous run created the upload and sent 2 parts, then someone aborted it.
  auto id = w->mem.create_multipart("aborted", {}).value();
  int fd = ::open(f.staging_path.c_str(), O_RDONLY);
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
  std::string closed, never, old, newer;
  // A closed file whose record was never written: uploaded from its mark.
  auto a = w->stage_file("lost-record", 2 * kPart, 21, &closed, 5);
  // A file that was never closed (no mark): removed, never uploaded.
  auto b = w->staging->create().value();
  assert_true(::write(b.fd.get(), "never", 5) == 5);
  // An older closed generation of a key whose newer one exists: removed.
  auto c = w->stage_file("versioned", 100, 23, &old, 7);
  auto d = w->stage_file("versioned", 200, 24, &newer, 8);
  assert_true(w->cp->put(w->record_of(d)).ok());

  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 2);
  assert_int_equal(rep->removed, 2);
  assert_false(fsys::exists(b.path));
  assert_false(fsys::exists(c.staging_path));
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("lost-record") == closed);
  assert_true(*w->mem.object_data("versioned") == newer);
  assert_int_equal(w->mem.calls("put") + w->mem.calls("create_multipart"), 2);  // one upload per key
  // Uploaded files keep no mark, so a leftover is never mistaken for a closed file.
  assert_false(fsys::exists(a.staging_path));
  assert_true(w->staging->scan().empty());
}

// Crash states built directly (issue 11): what the next mount must make of them.

// A power cut undid the checkpoint commits after an older generation's
// (MDB_NOMETASYNC): the store holds generation 1's record with its multipart
// upload, the staging area generation 2's mark. Generation 2 is uploaded once;
// generation 1's upload is aborted, never completed.
void test_rolled_back_store_keeps_newest(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string v1, v2;
  auto g1 = w->stage_file("rb", 6 * kPart, 41, &v1, 1);
  auto rec = w->record_of(g1);
  rec.upload_id = w->mem.create_multipart("rb", {}).value();
  rec.part_size = kPart;
  rec.state = checkpoint::UploadState::Uploading;
  assert_true(w->cp->put(rec).ok());
  auto g2 = w->stage_file("rb", 3 * kPart, 42, &v2, 2);
  w->staging->remove(g1.staging_path);                         // superseded: removed, but (say) not durably
  auto g1_again = w->stage_file("rb", 6 * kPart, 41, &v1, 1);  // ...so it is back
  w->mem.reset_counters();
  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 1);
  assert_int_equal(rep->stale, 1);
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("rb") == v2);
  assert_int_equal(w->mem.open_upload_count(), 0);
  assert_int_equal(w->mem.calls("create_multipart"), 1);  // generation 2 only
  assert_int_equal(w->mem.calls("complete_multipart"), 1);
  assert_false(fsys::exists(g1_again.staging_path));
  assert_true(w->staging->scan().empty());
}

// A staging file whose mark is durable but whose data is not what was closed
// (short): never uploaded; the bucket keeps its last good version.
void test_short_marked_file_is_not_uploaded(void** state) {
  auto* w = static_cast<World*>(*state);
  w->mem.put_object("short", "the last good version");
  std::string data;
  auto f = w->stage_file("short", 5 * kPart, 43, &data);
  assert_int_equal(::truncate(f.staging_path.c_str(), 2 * kPart), 0);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(1));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->failed, 1);
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("short") == "the last good version");
  assert_true(fsys::exists(f.staging_path));  // kept for the user
}

// Two closed generations of one key and no record at all: one upload job,
// of the newest; the older file goes.
void test_two_marked_generations_one_job(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string v1, v2;
  auto g7 = w->stage_file("twice", 9 * kPart, 44, &v1, 7);
  auto g9 = w->stage_file("twice", 7 * kPart, 45, &v2, 9);
  Uploader u(w->mem, *w->cp, *w->staging, cfg(4));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->resumed, 1);
  assert_int_equal(u.pending().size(), 1);
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("twice") == v2);
  assert_int_equal(w->mem.calls("create_multipart"), 1);
  assert_int_equal(w->mem.calls("upload_part"), 7);
  assert_false(fsys::exists(g7.staging_path));
  assert_false(fsys::exists(g9.staging_path));
}

// A rename crashed between its two records (old: one transaction each): a
// record under each key. The mark names the new key: the file goes there
// only, and the old key's upload is aborted.
void test_record_under_both_keys(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto f = w->stage_file("new/name", 6 * kPart, 46, &data, 3);
  auto old_rec = w->record_of(f);
  old_rec.key = "old/name";
  old_rec.upload_id = w->mem.create_multipart("old/name", {}).value();
  old_rec.part_size = kPart;
  assert_true(w->cp->put(old_rec).ok());
  assert_true(w->cp->put(w->record_of(f)).ok());
  Uploader u(w->mem, *w->cp, *w->staging, cfg(2));
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->stale, 1);
  u.start();
  assert_true(wait_idle(u));
  assert_true(*w->mem.object_data("new/name") == data);
  assert_false(w->mem.object_data("old/name").has_value());
  assert_int_equal(w->mem.open_upload_count(), 0);
  assert_true(w->cp->load_all()->good.empty());
}

// A mark whose key lies outside the mount's prefix (a planted or foreign
// file) is never uploaded.
void test_key_outside_prefix_is_refused(void** state) {
  auto* w = static_cast<World*>(*state);
  std::string data;
  auto f = w->stage_file("elsewhere/secret", 100, 47, &data);
  auto c = cfg(1);
  c.prefix = "mine/";
  Uploader u(w->mem, *w->cp, *w->staging, c);
  auto rep = u.resume();
  assert_true(rep.ok());
  assert_int_equal(rep->failed, 1);
  assert_int_equal(rep->resumed, 0);
  u.start();
  assert_true(wait_idle(u));
  assert_int_equal(w->mem.object_count(), 0);
  assert_true(fsys::exists(f.staging_path));
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
      cmocka_unit_test_setup_teardown(test_new_generation_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_drops_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_queues_durable_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_while_completing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aborted_upload_restarts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resume_staging_leftovers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rolled_back_store_keeps_newest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_short_marked_file_is_not_uploaded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_marked_generations_one_job, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_under_both_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_outside_prefix_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_budget_spent_then_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_planted_staging_entries_are_not_uploaded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_given_up_upload_resumes_at_mount, setup, teardown),
      cmocka_unit_test_setup_teardown(test_complete_answered_500_but_done, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_adopted_at_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_changed_part_sent_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_progress_recorded_by_one_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parts_hashed_ahead, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_part_hashed_ahead_then_changed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_not_adopted_is_aborted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_concurrency_while_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_abandoned_is_aborted_at_mount, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_adopted_then_crash_resumes, setup, teardown),
  };
  return cmocka_run_group_tests_name("uploader", tests, nullptr, nullptr);
}
