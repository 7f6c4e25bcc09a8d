// test_checkpoint.cpp - record encoding and the LMDB checkpoint store.
//
// Every test gets a fresh temp dir under /tmp (removed by the teardown). C++
// objects live in the fixture state, and helpers return plain values, so that
// a failing cmocka assertion (longjmp) skips no destructor that matters.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/checkpoint/record.hpp"
#include "bucketfs/util/codec.hpp"
#include "bucketfs/util/crc.hpp"

// cmocka last: its fail() macro breaks <ios>. Debian's cmocka 1.1.5 header has
// no extern "C" guard of its own.
extern "C" {
#include <cmocka.h>
}

using namespace bucketfs::checkpoint;

namespace {

struct State {
  std::string dir;  // the cache dir under test (not created yet)
  std::string tmp;  // the temp dir holding it
  std::unique_ptr<CheckpointStore> store;
  UploadRecord rec;
  std::string bytes;
  StoreError err;
  LoadedRecords loaded;
  std::vector<UploadRecord> failed;
  std::vector<std::thread> threads;
};

int rm_entry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

int setup(void** state) {
  auto* s = new State;
  char tmpl[] = "/tmp/bucketfs-test-checkpoint-XXXXXX";
  if (!::mkdtemp(tmpl)) return -1;
  s->tmp = tmpl;
  s->dir = s->tmp + "/cache";
  *state = s;
  return 0;
}

int teardown(void** state) {
  auto* s = static_cast<State*>(*state);
  for (auto& t : s->threads) {
    if (t.joinable()) t.join();
  }
  s->store.reset();
  ::nftw(s->tmp.c_str(), rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  delete s;
  return 0;
}

State* st(void** state) { return static_cast<State*>(*state); }

UploadRecord sample(const std::string& key) {
  UploadRecord r;
  r.key = key;
  r.bucket = "bucket-1";
  r.staging_path = "/var/cache/bucketfs/stage/000123";
  r.size = 20ull * 1024 * 1024 + 7;
  r.mtime_ns = 1700000000123456789ll;
  r.generation = 42;
  r.part_size = 8ull * 1024 * 1024;
  r.upload_id = "2~upload-id-with-unicode-\xc3\xa9";
  r.checksum_algo = 1;
  r.parts = {{1, 8ull << 20, "etag-1", "0123456789abcdef0123456789abcdef", 0x1234abcdu},
             {2, 8ull << 20, "etag-2", "fedcba9876543210fedcba9876543210", 0xffffffffu}};
  r.meta = {{"mode", "33188"}, {"uid", "1000"}, {"gid", "1000"}, {"mtime", "1700000000"}};
  r.content_type = "application/octet-stream";
  r.state = UploadState::Uploading;
  r.attempts = 3;
  r.last_error = "Transient: connection reset";
  r.created = 1700000000;
  r.updated = 1700000100;
  return r;
}

bool same(const UploadRecord& a, const UploadRecord& b) {
  if (a.parts.size() != b.parts.size()) return false;
  for (size_t i = 0; i < a.parts.size(); ++i) {
    const auto &p = a.parts[i], &q = b.parts[i];
    if (p.number != q.number || p.size != q.size || p.etag != q.etag || p.md5 != q.md5 || p.crc != q.crc)
      return false;
  }
  return a.key == b.key && a.bucket == b.bucket && a.staging_path == b.staging_path && a.size == b.size &&
         a.mtime_ns == b.mtime_ns && a.generation == b.generation && a.part_size == b.part_size &&
         a.upload_id == b.upload_id && a.checksum_algo == b.checksum_algo && a.meta == b.meta &&
         a.content_type == b.content_type && a.state == b.state && a.attempts == b.attempts &&
         a.last_error == b.last_error && a.created == b.created && a.updated == b.updated;
}

// Opens s->store; returns -1 on success, else the StoreError kind (kept in s->err).
int open_store(State* s, bool read_only, size_t map = CheckpointStore::kDefaultMapSize) {
  s->store.reset();
  auto r = CheckpointStore::open(s->dir, read_only, map);
  if (!r) {
    s->err = r.error();
    return r.error().kind;
  }
  s->store = std::move(r).value();
  return -1;
}

bool put_ok(State* s, const UploadRecord& r) { return s->store->put(r).ok(); }

// 1: missing, 2: present and equal to `want`, 0: error or different.
int get_state(State* s, const std::string& key, const UploadRecord* want) {
  auto r = s->store->get(key);
  if (!r) return 0;
  if (!r.value()) return 1;
  return want && same(*r.value(), *want) ? 2 : 0;
}

bool load(State* s) {
  auto r = s->store->load_all();
  if (!r) return false;
  s->loaded = std::move(r).value();
  return true;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

// ---- record encoding ----

void test_crc32c_vector(void**) {
  assert_int_equal(bucketfs::crc::crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(bucketfs::crc::crc32c(0, "", 0), 0u);
}

void test_round_trip(void** state) {
  State* s = st(state);
  s->rec = sample("dir/sub/file.bin");
  s->bytes = encode(s->rec);
  UploadRecord out;
  assert_true(decode(s->bytes, &out));
  assert_true(same(out, s->rec));
  // An empty record (single PUT, nothing set) round-trips too.
  UploadRecord empty;
  empty.key = "k";
  assert_true(decode(encode(empty), &out));
  assert_true(same(out, empty));
}

void test_every_byte_flip_rejected(void** state) {
  State* s = st(state);
  s->bytes = encode(sample("flip/me"));
  size_t rejected = 0;
  for (size_t i = 0; i < s->bytes.size(); ++i) {
    for (int x = 1; x < 256; ++x) {
      std::string b = s->bytes;
      b[i] = static_cast<char>(b[i] ^ x);
      UploadRecord out;
      if (!decode(b, &out)) ++rejected;
    }
  }
  assert_int_equal(rejected, s->bytes.size() * 255);
}

void test_every_truncation_rejected(void** state) {
  State* s = st(state);
  s->bytes = encode(sample("cut/me"));
  UploadRecord out;
  size_t rejected = 0;
  for (size_t n = 0; n < s->bytes.size(); ++n) {
    if (!decode(s->bytes.substr(0, n), &out)) ++rejected;
  }
  assert_int_equal(rejected, s->bytes.size());
  assert_false(decode(s->bytes + std::string(1, '\0'), &out));
  assert_false(decode(s->bytes + "x", &out));
  assert_false(decode(s->bytes + s->bytes, &out));
  std::string why;
  assert_false(decode(s->bytes + "x", &out, &why));
  assert_true(contains(why, "trailing"));
}

void test_unknown_version_rejected(void** state) {
  State* s = st(state);
  s->bytes = encode(sample("v/next"));
  auto reseal = [](std::string* b) {
    uint32_t c = bucketfs::crc::crc32c(0, b->data(), b->size() - 4);
    for (int i = 0; i < 4; ++i) (*b)[b->size() - 4 + i] = static_cast<char>((c >> (8 * i)) & 0xff);
  };
  UploadRecord out;
  std::string b = s->bytes;
  reseal(&b);  // resealing unchanged bytes keeps them valid: the test's own CRC is right
  assert_true(decode(b, &out));
  b[4] = 3;  // schema version 3, with a valid checksum
  reseal(&b);
  std::string why;
  assert_false(decode(b, &out, &why));
  assert_true(contains(why, "version"));
}

// A record written by schema version 1 (no checksum algorithm, no part
// CRCs), laid out by hand as record.cpp wrote it, still decodes.
void test_version_1_still_decodes(void**) {
  const UploadRecord want = sample("v/one");
  bucketfs::ByteWriter w;
  w.raw("BFCR", 4);
  w.u32(1);
  w.u32(0);
  w.str(want.key);
  w.str(want.bucket);
  w.str(want.staging_path);
  w.u64(want.size);
  w.u64(static_cast<uint64_t>(want.mtime_ns));
  w.u64(want.generation);
  w.u64(want.part_size);
  w.str(want.upload_id);
  w.u32(static_cast<uint32_t>(want.parts.size()));
  for (const auto& p : want.parts) {
    w.u32(static_cast<uint32_t>(p.number));
    w.u64(p.size);
    w.str(p.etag);
    w.str(p.md5);
  }
  w.u32(static_cast<uint32_t>(want.meta.size()));
  for (const auto& [k, v] : want.meta) {
    w.str(k);
    w.str(v);
  }
  w.str(want.content_type);
  w.u8(static_cast<uint8_t>(want.state));
  w.u32(want.attempts);
  w.str(want.last_error);
  w.u64(static_cast<uint64_t>(want.created));
  w.u64(static_cast<uint64_t>(want.updated));
  std::string& b = w.bytes();
  w.patch_u32(8, static_cast<uint32_t>(b.size() + 4));
  w.u32(bucketfs::crc::crc32c(0, b.data(), b.size()));
  UploadRecord out;
  std::string why;
  assert_true(decode(b, &out, &why));
  UploadRecord expect = want;
  expect.checksum_algo = 0;
  for (auto& p : expect.parts) p.crc = 0;
  assert_true(same(out, expect));
  assert_int_equal(out.parts[1].crc, 0);
  // And it is written back as the current version, with its fields kept.
  UploadRecord again;
  assert_true(decode(encode(out), &again));
  assert_true(same(again, expect));
}

void test_helpers(void**) {
  assert_string_equal(state_name(UploadState::Pending), "pending");
  assert_string_equal(state_name(UploadState::Uploading), "uploading");
  assert_string_equal(state_name(UploadState::Completing), "completing");
  assert_string_equal(state_name(UploadState::Failed), "failed");
  UploadRecord r = sample("x");
  assert_int_equal(r.bytes_done(), 16ull << 20);
  assert_int_equal(r.parts_total(), 3);
  r.size = 16ull << 20;
  assert_int_equal(r.parts_total(), 2);
  r.size = (16ull << 20) + 1;
  assert_int_equal(r.parts_total(), 3);
  r.part_size = 0;  // single PUT
  r.parts.clear();
  assert_int_equal(r.parts_total(), 1);
  assert_int_equal(r.bytes_done(), 0);
}

// ---- the store ----

void test_put_get_remove(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  struct stat sb {};
  assert_int_equal(::stat(s->dir.c_str(), &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);

  s->rec = sample("a/one");
  assert_true(put_ok(s, s->rec));
  assert_true(put_ok(s, sample("a/two")));
  assert_int_equal(get_state(s, "a/one", &s->rec), 2);
  assert_int_equal(get_state(s, "a/missing", nullptr), 1);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 2);
  assert_int_equal(s->loaded.damaged.size(), 0);

  s->rec.attempts = 9;  // replace by key
  s->rec.parts.push_back({3, 4, "etag-3", "00"});
  assert_true(put_ok(s, s->rec));
  assert_int_equal(get_state(s, "a/one", &s->rec), 2);

  assert_true(s->store->remove("a/one").ok());
  assert_int_equal(get_state(s, "a/one", nullptr), 1);
  assert_true(s->store->remove("a/one").ok());  // missing: ok
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 1);
  assert_string_equal(s->loaded.good[0].key.c_str(), "a/two");

  // Keys beyond LMDB's 511-byte limit, sharing a long prefix, stay distinct.
  s->rec = sample(std::string(1000, 'k') + "1");
  assert_true(put_ok(s, s->rec));
  assert_true(put_ok(s, sample(std::string(1000, 'k') + "2")));
  assert_int_equal(get_state(s, std::string(1000, 'k') + "1", &s->rec), 2);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 3);
  assert_int_equal(s->loaded.damaged.size(), 0);
  assert_true(s->store->remove(std::string(1000, 'k') + "2").ok());
  assert_int_equal(get_state(s, std::string(1000, 'k') + "2", nullptr), 1);
}

void test_persistence(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  s->rec = sample("persist/me");
  assert_true(put_ok(s, s->rec));
  assert_int_equal(open_store(s, false), -1);  // closes, reopens
  assert_int_equal(get_state(s, "persist/me", &s->rec), 2);
}

void test_mark_failed(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  s->rec = sample("will/fail");
  assert_true(put_ok(s, s->rec));
  assert_true(put_ok(s, sample("stays")));
  assert_true(s->store->mark_failed(s->rec, "staging file changed").ok());
  assert_int_equal(get_state(s, "will/fail", nullptr), 1);
  auto f = s->store->load_failed();
  assert_true(f.ok());
  s->failed = std::move(f).value();
  assert_int_equal(s->failed.size(), 1);
  assert_string_equal(s->failed[0].key.c_str(), "will/fail");
  assert_int_equal(s->failed[0].state, UploadState::Failed);
  assert_string_equal(s->failed[0].last_error.c_str(), "staging file changed");
  assert_int_equal(s->failed[0].upload_id == s->rec.upload_id, 1);
  assert_true(s->store->remove_failed("will/fail").ok());
  auto f2 = s->store->load_failed();
  assert_true(f2.ok());
  assert_int_equal(f2.value().size(), 0);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 1);
}

// Bit rot inside one stored value: LMDB does not checksum pages, the record does.
void test_damaged_record_reported(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  s->rec = sample("rotten");
  s->rec.last_error = "MARKER-0123456789";
  assert_true(put_ok(s, s->rec));
  assert_true(put_ok(s, sample("healthy")));
  s->store.reset();
  s->bytes = read_file(s->dir + "/data.mdb");
  size_t hits = 0;
  for (size_t at = s->bytes.find("MARKER-0123456789"); at != std::string::npos;
       at = s->bytes.find("MARKER-0123456789", at + 1)) {
    s->bytes[at + 7] = 'X';
    ++hits;
  }
  assert_true(hits >= 1);
  assert_true(write_file(s->dir + "/data.mdb", s->bytes));

  assert_int_equal(open_store(s, false), -1);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 1);
  assert_string_equal(s->loaded.good[0].key.c_str(), "healthy");
  assert_int_equal(s->loaded.damaged.size(), 1);
  assert_string_equal(s->loaded.damaged[0].key.c_str(), "rotten");
  assert_true(contains(s->loaded.damaged[0].reason, "checksum"));
  auto g = s->store->get("rotten");
  assert_false(g.ok());
  assert_int_equal(g.error().kind, StoreError::Damaged);

  assert_true(s->store->mark_damaged_failed(s->loaded.damaged[0]).ok());
  assert_true(load(s));
  assert_int_equal(s->loaded.damaged.size(), 0);
  assert_int_equal(s->loaded.good.size(), 1);
  auto f = s->store->load_failed();
  assert_true(f.ok());
  s->failed = std::move(f).value();
  assert_int_equal(s->failed.size(), 1);
  assert_string_equal(s->failed[0].key.c_str(), "rotten");
  assert_true(contains(s->failed[0].last_error, "damaged"));
  assert_true(s->store->remove_failed("rotten").ok());
}

void test_lock_in_process(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  auto second = CheckpointStore::open(s->dir, false);
  assert_false(second.ok());
  assert_int_equal(second.error().kind, StoreError::Locked);
  s->err = second.error();
  assert_true(contains(s->err.message, "another bucketfs process is using the cache dir " + s->dir));
  assert_true(contains(s->err.message, "(pid " + std::to_string(::getpid()) + ")"));
  assert_true(contains(s->err.message, "unmount it first or pass a different cache_dir"));
  auto q = CheckpointStore::quarantine(s->dir);  // refused while a writer runs
  assert_false(q.ok());
  assert_int_equal(q.error().kind, StoreError::Locked);
  // The first store still works, and the lock goes with it.
  assert_true(put_ok(s, sample("still/works")));
  s->store.reset();
  assert_int_equal(open_store(s, false), -1);
}

void test_lock_from_child(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  pid_t pid = ::fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    auto r = CheckpointStore::open(s->dir, false);
    ::_exit(!r.ok() && r.error().kind == StoreError::Locked ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(::waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

// The child process is `bucketfs status` while the parent is the mount.
void test_read_only_while_writer(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false), -1);
  s->rec = sample("ro/one");
  assert_true(put_ok(s, s->rec));
  assert_true(put_ok(s, sample("ro/two")));
  assert_true(put_ok(s, sample("ro/three")));
  assert_true(s->store->mark_failed(sample("ro/three"), "gone").ok());
  pid_t pid = ::fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int code = 0;
    {
      auto r = CheckpointStore::open(s->dir, true);
      if (!r) ::_exit(10);
      auto& ro = *r.value();
      auto all = ro.load_all();
      auto failed = ro.load_failed();
      auto one = ro.get("ro/one");
      if (!all || all.value().good.size() != 2 || !all.value().damaged.empty())
        code = 11;
      else if (!failed || failed.value().size() != 1)
        code = 12;
      else if (!one || !one.value() || !same(*one.value(), s->rec))
        code = 13;
      else if (ro.put(sample("nope")).ok())
        code = 14;
    }
    ::_exit(code);
  }
  int status = 0;
  assert_int_equal(::waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

// A reader opened before the writer grows the map past the reader's mapping
// gets MDB_MAP_RESIZED from LMDB; the store adopts the new size and retries.
void test_read_only_sees_growth(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, false, 64 * 1024), -1);
  assert_true(put_ok(s, sample("first")));
  int ready[2], go[2];
  assert_int_equal(::pipe(ready), 0);
  assert_int_equal(::pipe(go), 0);
  pid_t pid = ::fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int code = 0;
    {
      auto r = CheckpointStore::open(s->dir, true, 64 * 1024);
      char c = 0;
      if (!r) code = 10;
      if (::write(ready[1], "r", 1) != 1 || ::read(go[0], &c, 1) != 1) code = 11;
      if (code == 0) {
        auto all = r.value()->load_all();
        if (!all)
          code = 12;
        else if (all.value().good.size() != 301)
          code = 13;
        else if (r.value()->map_size() < 1024 * 1024)
          code = 14;
      }
    }
    ::_exit(code);
  }
  char c = 0;
  assert_int_equal(::read(ready[0], &c, 1), 1);
  size_t put_fail = 0;
  for (int i = 0; i < 300; ++i) {
    UploadRecord r = sample("big/" + std::to_string(i));
    r.staging_path.append(5000, 'p');
    if (!put_ok(s, r)) ++put_fail;
  }
  assert_int_equal(::write(go[1], "g", 1), 1);
  int status = 0;
  assert_int_equal(::waitpid(pid, &status, 0), pid);
  ::close(ready[0]), ::close(ready[1]), ::close(go[0]), ::close(go[1]);
  assert_int_equal(put_fail, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

void test_read_only_without_store(void** state) {
  State* s = st(state);
  assert_int_equal(open_store(s, true), -1);  // the dir does not exist
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size() + s->loaded.damaged.size(), 0);
  assert_int_equal(get_state(s, "any", nullptr), 1);
  auto f = s->store->load_failed();
  assert_true(f.ok());
  assert_int_equal(f.value().size(), 0);
  assert_false(s->store->put(sample("x")).ok());
  assert_int_equal(::access(s->dir.c_str(), F_OK), -1);  // nothing created
  assert_int_equal(::mkdir(s->dir.c_str(), 0700), 0);    // an empty dir: same
  assert_int_equal(open_store(s, true), -1);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 0);
}

void test_map_growth(void** state) {
  State* s = st(state);
  const size_t initial = 64 * 1024;
  assert_int_equal(open_store(s, false, initial), -1);
  size_t put_fail = 0;
  for (int i = 0; i < 600; ++i) {
    UploadRecord r = sample("grow/" + std::to_string(i));
    r.staging_path.append(5000, 'p');  // ~5 KiB per record (overflow pages): ~3 MiB in all
    if (!put_ok(s, r)) ++put_fail;
  }
  assert_int_equal(put_fail, 0);
  assert_true(s->store->map_size() >= 2 * 1024 * 1024);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 600);
  assert_int_equal(open_store(s, false, initial), -1);  // reopen with the small size: all still there
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 600);
  assert_true(put_ok(s, sample("grow/after-reopen")));
}

// Fills a store with enough records to span many pages, then closes it.
void fill_and_close(State* s) {
  assert_int_equal(open_store(s, false), -1);
  for (int i = 0; i < 150; ++i) {
    UploadRecord r = sample("fill/" + std::to_string(i));
    r.staging_path.append(500, 'p');
    assert_true(put_ok(s, r));
  }
  s->store.reset();
}

void expect_damaged_then_quarantine(State* s) {
  assert_int_equal(open_store(s, false), StoreError::Damaged);
  assert_true(contains(s->err.message, s->dir + "/data.mdb"));
  assert_true(contains(s->err.message, "run `bucketfs recover --checkpoint-dir " + s->dir + "`"));
  assert_true(contains(s->err.message, "data.mdb.damaged-"));
  assert_true(s->err.message.find('\n') == std::string::npos);
  assert_int_equal(open_store(s, true), StoreError::Damaged);

  auto q = CheckpointStore::quarantine(s->dir);
  assert_true(q.ok());
  s->bytes = q.value();
  assert_true(contains(s->bytes, s->dir + "/data.mdb.damaged-"));
  assert_int_equal(::access(s->bytes.c_str(), F_OK), 0);
  assert_int_equal(::access((s->dir + "/data.mdb").c_str(), F_OK), -1);
  assert_int_equal(open_store(s, false), -1);  // a fresh, empty store
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 0);
  assert_true(put_ok(s, sample("after/quarantine")));
}

void test_truncated_store_is_damaged(void** state) {
  State* s = st(state);
  fill_and_close(s);
  const std::string data = s->dir + "/data.mdb";
  struct stat sb {};
  assert_int_equal(::stat(data.c_str(), &sb), 0);
  assert_true(sb.st_size > 8 * 4096);
  assert_int_equal(::truncate(data.c_str(), 3 * 4096), 0);
  expect_damaged_then_quarantine(s);
}

void test_garbage_store_is_damaged(void** state) {
  State* s = st(state);
  fill_and_close(s);
  const std::string data = s->dir + "/data.mdb";
  s->bytes = read_file(data);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& c : s->bytes) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  assert_true(write_file(data, s->bytes));
  expect_damaged_then_quarantine(s);
}

void test_empty_store_file_is_damaged(void** state) {
  State* s = st(state);
  fill_and_close(s);
  assert_int_equal(::truncate((s->dir + "/data.mdb").c_str(), 0), 0);
  expect_damaged_then_quarantine(s);
  auto q = CheckpointStore::quarantine(s->tmp + "/nothing-here");
  assert_false(q.ok());
  assert_int_equal(q.error().kind, StoreError::NotFound);
  assert_int_equal(::mkdir((s->tmp + "/empty").c_str(), 0700), 0);
  auto q2 = CheckpointStore::quarantine(s->tmp + "/empty");  // a dir without data.mdb
  assert_false(q2.ok());
  assert_int_equal(q2.error().kind, StoreError::NotFound);
}

void test_concurrent_put(void** state) {
  State* s = st(state);
  // A small map, so that growth happens while other threads write and read.
  assert_int_equal(open_store(s, false, 128 * 1024), -1);
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  CheckpointStore* store = s->store.get();
  for (int t = 0; t < 4; ++t) {
    s->threads.emplace_back([store, t, &failures] {
      for (int i = 0; i < 150; ++i) {
        UploadRecord r = sample("t" + std::to_string(t) + "/" + std::to_string(i));
        r.staging_path.append(1500, 'p');  // ~900 KiB in all: grows the map several times
        if (!store->put(r).ok()) ++failures;
      }
    });
  }
  s->threads.emplace_back([store, &failures, &done] {
    while (!done) {
      auto r = store->load_all();
      if (!r || !r.value().damaged.empty()) ++failures;
    }
  });
  for (int t = 0; t < 4; ++t) s->threads[t].join();
  done = true;
  s->threads[4].join();
  assert_int_equal(failures.load(), 0);
  assert_true(load(s));
  assert_int_equal(s->loaded.good.size(), 600);
  assert_int_equal(s->loaded.damaged.size(), 0);
  assert_true(s->store->map_size() > 128 * 1024);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32c_vector),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_byte_flip_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_truncation_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_version_rejected, setup, teardown),
      cmocka_unit_test(test_helpers),
      cmocka_unit_test_setup_teardown(test_put_get_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mark_failed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_record_reported, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_in_process, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_from_child, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_while_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_sees_growth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_without_store, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_growth, setup, teardown),
      cmocka_unit_test(test_version_1_still_decodes),
      cmocka_unit_test_setup_teardown(test_truncated_store_is_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_store_is_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_store_file_is_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_put, setup, teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
