// checkpoint_store.cpp - CheckpointStore over LMDB (the only file that includes <lmdb.h>).
//
// Invariants:
// - Every LMDB transaction lives in a Txn (aborted by its destructor) inside one
//   call, on one thread, while holding resize_mu shared; mdb_env_set_mapsize
//   runs only under resize_mu exclusive, i.e. with no transaction in flight in
//   this process, as lmdb.h requires.
// - Write transactions are committed before the call returns, under
//   MDB_NOMETASYNC: the data pages are synced, the meta page is not, so a
//   system crash may undo the last commit (never corrupt the store). A record
//   is upload progress, not the truth of what must be uploaded (that is the
//   staging file's closed mark, see staging_area.hpp), so losing the last
//   commit costs at most re-sent work; where a later state depends on a
//   commit (an upload id before its first part), the caller calls sync().
// - A second writer is kept off by flock(DIR/lock), taken before the
//   environment is opened, so two processes never write the same store. A new
//   fd is used each time, so a second open in the same process is refused too.
// - A damaged environment is detected at open (LMDB's header checks, plus the
//   data file being shorter than its meta page says, which would otherwise
//   SIGBUS on the first read) and reported as Damaged, never crashed on.
#include "bucketfs/checkpoint/checkpoint_store.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/private_dir.hpp"

namespace bucketfs::checkpoint {

namespace {

// LMDB's default max key size is 511 bytes; S3 keys may be 1024.
constexpr size_t kDirectKeyMax = 400;
constexpr size_t kHashedPrefix = 384;
constexpr size_t kMaxMapSize = size_t{1} << 40;

// Move-only transaction (lmdbxx style): the destructor aborts; commit() clears
// the handle first because LMDB frees it whether the commit succeeds or not.
class Txn {
 public:
  Txn() = default;
  Txn(Txn&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      reset();
      t_ = std::exchange(o.t_, nullptr);
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() noexcept { reset(); }

  static int begin(MDB_env* env, unsigned flags, Txn* out) {
    MDB_txn* t = nullptr;
    int rc = mdb_txn_begin(env, nullptr, flags, &t);
    if (rc == 0) *out = Txn(t);
    return rc;
  }
  int commit() noexcept { return mdb_txn_commit(std::exchange(t_, nullptr)); }
  MDB_txn* get() const { return t_; }

 private:
  explicit Txn(MDB_txn* t) : t_(t) {}
  void reset() noexcept {
    if (t_) mdb_txn_abort(std::exchange(t_, nullptr));
  }
  MDB_txn* t_ = nullptr;
};

// Move-only cursor; must be destroyed before its transaction ends.
class Cursor {
 public:
  Cursor() = default;
  Cursor(Cursor&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() noexcept {
    if (c_) mdb_cursor_close(c_);
  }
  static int open(MDB_txn* txn, MDB_dbi dbi, Cursor* out) {
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc == 0) out->c_ = c;
    return rc;
  }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
};

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string db_key(const std::string& key) {
  if (key.size() <= kDirectKeyMax) return key;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(key)));
  std::string k = key.substr(0, kHashedPrefix);
  k.push_back('\0');
  k.append(hex);
  return k;
}

MDB_val val_of(const std::string& s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string str_of(const MDB_val& v) { return std::string(static_cast<const char*>(v.mv_data), v.mv_size); }

std::string damaged_message(const std::string& dir, const std::string& what) {
  return "checkpoint store " + dir + "/data.mdb is damaged (" + what +
         "); run `bucketfs recover --checkpoint-dir " + dir +
         "` to re-queue the staged files; the damaged store is kept as data.mdb.damaged-<time>";
}

// The one mapping from LMDB/errno codes to StoreError.
StoreError map_error(int rc, const std::string& dir, const char* op) {
  const std::string what = std::string(op) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_VERSION_MISMATCH:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE: return {StoreError::Damaged, damaged_message(dir, what)};
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
      return {StoreError::NoSpace, "checkpoint store " + dir + ": " + what + "; free space under the cache dir"};
    case MDB_NOTFOUND: return {StoreError::NotFound, "checkpoint store " + dir + ": " + what};
    default: break;
  }
  return {rc > 0 ? StoreError::Io : StoreError::Other, "checkpoint store " + dir + ": " + what};
}

StoreError errno_error(const std::string& what, int err) {
  return {err == ENOSPC || err == EDQUOT ? StoreError::NoSpace : StoreError::Io, what + ": " + std::strerror(err)};
}

// mkdir -p with mode 0700, refusing a path another user could change (a
// planted symlink, a world-writable or foreign-owned component): see
// util/private_dir.hpp.
CpResult<void> make_dirs(const std::string& dir) {
  auto opened = open_private_dir(dir, "checkpoint dir");
  if (!opened) return StoreError{StoreError::Io, opened.error()};
  return {};
}

bool on_network_fs(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969:      // NFS
    case 0x517B:      // SMB
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x5346414F:  // AFS
    case 0x00C36400:  // Ceph
      return true;
    default: return false;
  }
}

// Takes the writer lock on DIR/lock with a fresh open file description. The
// file is opened relative to the directory without following a symlink and
// must be a regular file of ours with one link, and it is never truncated: a
// planted link to a system file is refused, not written.
CpResult<void> take_lock(const std::string& dir, Fd* out) {
  const std::string path = dir + "/lock";
  auto d = open_private_dir(dir, "checkpoint dir");
  if (!d) return StoreError{StoreError::Io, d.error()};
  auto opened = open_private_file(d->fd.get(), d->path, "lock", O_RDWR | O_CREAT, 0600);
  if (!opened) return StoreError{StoreError::Io, "cannot use the lock file: " + opened.error()};
  Fd fd = std::move(*opened);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return errno_error("cannot lock " + path, errno);
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    std::string who = pid > 0 ? " (pid " + std::to_string(pid) + ")" : "";
    return StoreError{StoreError::Locked, "another bucketfs process is using the cache dir " + dir + who +
                                              "; unmount it first or pass a different cache_dir"};
  }
  // Best effort: the pid only makes the Locked message more helpful. Written
  // at a fixed width, so no truncation is needed to replace a longer one.
  char pid[24];
  int len = std::snprintf(pid, sizeof pid, "%-20ld\n", static_cast<long>(::getpid()));
  if (len > 0 && ::pwrite(fd.get(), pid, static_cast<size_t>(len), 0) < 0) {
    // ignored: the lock itself is held
  }
  *out = std::move(fd);
  return {};
}

std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

struct CheckpointStore::Impl {
  std::string dir;
  bool read_only = false;
  Fd lock_fd;              // writer lock; released after the env closes
  MDB_env* env = nullptr;  // null: read-only open of a dir with no store
  bool have_dbs = false;   // false: read-only and the tables do not exist yet
  bool no_aborts = false;  // read-only open of a store without the aborts table
  MDB_dbi uploads = 0;
  MDB_dbi failed = 0;
  MDB_dbi damaged = 0;
  MDB_dbi aborts = 0;  // upload id -> key: multipart uploads still to abort
  // Shared by every transaction in flight, exclusive for mdb_env_set_mapsize.
  // Acquired before LMDB's own writer mutex (inside mdb_txn_begin).
  mutable std::shared_mutex resize_mu;
  size_t map_size = 0;  // guarded by resize_mu

  ~Impl() {
    if (env) mdb_env_close(env);
  }

  void refresh_map_size() {
    MDB_envinfo info;
    if (mdb_env_info(env, &info) == 0) map_size = info.me_mapsize;
  }

  // Doubles the map unless another thread already grew it past `seen`.
  int grow(size_t seen) {
    std::unique_lock lk(resize_mu);
    if (map_size != seen) return 0;
    if (seen >= kMaxMapSize) return MDB_MAP_FULL;
    int rc = mdb_env_set_mapsize(env, seen * 2);
    if (rc == 0) refresh_map_size();
    return rc;
  }

  // Another process grew the map (MDB_MAP_RESIZED): adopt its size.
  int adopt_resize() {
    std::unique_lock lk(resize_mu);
    int rc = mdb_env_set_mapsize(env, 0);
    if (rc == 0) refresh_map_size();
    return rc;
  }

  // Runs op(txn) in one write transaction and commits it; on MDB_MAP_FULL the
  // map is grown and the whole transaction retried, so op must be idempotent.
  template <class F>
  int run_write(F&& op) {
    for (int attempt = 0;; ++attempt) {
      size_t seen = 0;
      int rc = 0;
      {
        std::shared_lock lk(resize_mu);
        seen = map_size;
        Txn txn;
        rc = Txn::begin(env, 0, &txn);
        if (rc == 0) rc = op(txn.get());
        if (rc == 0) rc = txn.commit();
      }
      if (rc == MDB_MAP_RESIZED && attempt < 3) {
        rc = adopt_resize();
        if (rc == 0) continue;
      }
      if (rc != MDB_MAP_FULL) return rc;
      rc = grow(seen);
      if (rc != 0) return rc;
    }
  }

  // Runs op(txn) in a read-only transaction (aborted afterwards).
  template <class F>
  int run_read(F&& op) {
    for (int attempt = 0;; ++attempt) {
      int rc = 0;
      {
        std::shared_lock lk(resize_mu);
        Txn txn;
        rc = Txn::begin(env, MDB_RDONLY, &txn);
        if (rc == 0) return op(txn.get());
      }
      if (rc != MDB_MAP_RESIZED || attempt >= 3) return rc;
      rc = adopt_resize();
      if (rc != 0) return rc;
    }
  }

  // Collects every (raw key, raw value) of a table.
  int scan(MDB_dbi dbi, std::vector<std::pair<std::string, std::string>>* out) {
    return run_read([&](MDB_txn* txn) {
      Cursor cur;
      int rc = Cursor::open(txn, dbi, &cur);
      if (rc != 0) return rc;
      MDB_val k, v;
      for (rc = mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT)) {
        out->emplace_back(str_of(k), str_of(v));
      }
      return rc == MDB_NOTFOUND ? 0 : rc;
    });
  }

  StoreError error(int rc, const char* op) const { return map_error(rc, dir, op); }
  StoreError read_only_error() const {
    return {StoreError::Other, "checkpoint store " + dir + " is open read-only"};
  }

  CpResult<void> open_env(size_t initial_map_size);
  CpResult<void> check_data_size();
  CpResult<void> open_dbs();
};

CpResult<void> CheckpointStore::Impl::check_data_size() {
  MDB_envinfo info;
  MDB_stat st;
  int rc = mdb_env_info(env, &info);
  if (rc == 0) rc = mdb_env_stat(env, &st);
  if (rc != 0) return error(rc, "mdb_env_info");
  struct stat fst {};
  const std::string path = dir + "/data.mdb";
  if (::stat(path.c_str(), &fst) != 0) return errno_error("cannot stat " + path, errno);
  const uint64_t need = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  if (static_cast<uint64_t>(fst.st_size) < need) {
    return StoreError{StoreError::Damaged,
                      damaged_message(dir, "file is " + std::to_string(fst.st_size) +
                                               " bytes, its header says at least " + std::to_string(need))};
  }
  return {};
}

CpResult<void> CheckpointStore::Impl::open_env(size_t initial_map_size) {
  int rc = mdb_env_create(&env);
  if (rc != 0) {
    env = nullptr;
    return error(rc, "mdb_env_create");
  }
  rc = mdb_env_set_maxdbs(env, 5);
  if (rc == 0) rc = mdb_env_set_mapsize(env, initial_map_size);
  if (rc != 0) return error(rc, "mdb_env_set_mapsize");
  // MDB_NOTLS: reader slots belong to transactions, not threads (FUSE threads
  // come and go). No MDB_NOSYNC: it could corrupt the store on a power cut.
  // MDB_NOMETASYNC: one sync per commit instead of two. A power cut may undo
  // the last commit, which the recovery tolerates (see the file header);
  // sync() makes everything committed so far durable.
  const unsigned flags = MDB_NOTLS | MDB_NOMETASYNC | (read_only ? MDB_RDONLY : 0);
  rc = mdb_env_open(env, dir.c_str(), flags, 0600);
  if (rc != 0) return error(rc, "mdb_env_open");
  int dead = 0;
  rc = mdb_reader_check(env, &dead);  // clears slots of crashed processes
  if (rc != 0) return error(rc, "mdb_reader_check");
  if (auto r = check_data_size(); !r) return r;
  refresh_map_size();
  return {};
}

CpResult<void> CheckpointStore::Impl::open_dbs() {
  if (!read_only) {
    int rc = run_write([&](MDB_txn* txn) {
      int r = mdb_dbi_open(txn, "uploads", MDB_CREATE, &uploads);
      if (r == 0) r = mdb_dbi_open(txn, "failed", MDB_CREATE, &failed);
      if (r == 0) r = mdb_dbi_open(txn, "damaged", MDB_CREATE, &damaged);
      if (r == 0) r = mdb_dbi_open(txn, "aborts", MDB_CREATE, &aborts);
      return r;
    });
    if (rc != 0) return error(rc, "opening tables");
    have_dbs = true;
    return {};
  }
  // Handles opened in a read transaction become shared only once it commits.
  std::shared_lock lk(resize_mu);
  Txn txn;
  int rc = Txn::begin(env, MDB_RDONLY, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), "uploads", 0, &uploads);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), "failed", 0, &failed);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), "damaged", 0, &damaged);
  if (rc == 0) {
    // Added in schema 2; a store written before it has none (no aborts queued).
    rc = mdb_dbi_open(txn.get(), "aborts", 0, &aborts);
    if (rc == MDB_NOTFOUND) {
      aborts = damaged;
      rc = 0;
      no_aborts = true;
    }
  }
  if (rc == MDB_NOTFOUND) return {};  // a writer has not created them yet: empty
  if (rc == 0) rc = txn.commit();
  if (rc != 0) return error(rc, "opening tables");
  have_dbs = true;
  return {};
}

CheckpointStore::CheckpointStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CheckpointStore::~CheckpointStore() = default;

CpResult<std::unique_ptr<CheckpointStore>> CheckpointStore::open(const std::string& dir, bool read_only) {
  return open(dir, read_only, kDefaultMapSize);
}

CpResult<std::unique_ptr<CheckpointStore>> CheckpointStore::open(const std::string& dir, bool read_only,
                                                                 size_t initial_map_size) {
  if (dir.empty()) return StoreError{StoreError::Other, "checkpoint store: empty cache dir"};
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->read_only = read_only;
  auto empty_store = [&]() { return std::unique_ptr<CheckpointStore>(new CheckpointStore(std::move(impl))); };

  if (!read_only) {
    if (auto r = make_dirs(dir); !r) return r.error();
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (read_only && errno == ENOENT) return empty_store();
    return errno_error("cannot stat cache dir " + dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) return StoreError{StoreError::Io, "cache dir " + dir + " is not a directory"};
  if (on_network_fs(dir)) {
    return StoreError{
        StoreError::Io,
        "cache dir " + dir + " is on a network filesystem; LMDB needs a local one, pass a local cache_dir"};
  }
  if (!read_only) {
    if (auto r = take_lock(dir, &impl->lock_fd); !r) return r.error();
  }
  const std::string data = dir + "/data.mdb";
  if (::stat(data.c_str(), &st) != 0) {
    if (errno != ENOENT) return errno_error("cannot stat " + data, errno);
    if (read_only) return empty_store();
  } else if (st.st_size == 0) {
    // LMDB would silently initialise an empty file as a new store, losing every
    // record; a store file is never empty once created, so this is damage.
    return StoreError{StoreError::Damaged, damaged_message(dir, "file is empty")};
  }
  if (auto r = impl->open_env(initial_map_size); !r) return r.error();
  if (auto r = impl->open_dbs(); !r) return r.error();
  return empty_store();
}

CpResult<std::string> CheckpointStore::quarantine(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT) {
    return StoreError{StoreError::NotFound, "no checkpoint store in " + dir + " (no such directory)"};
  }
  Fd lock;
  if (auto r = take_lock(dir, &lock); !r) return r.error();
  const std::string data = dir + "/data.mdb";
  if (::stat(data.c_str(), &st) != 0) {
    if (errno == ENOENT) return StoreError{StoreError::NotFound, "no checkpoint store in " + dir};
    return errno_error("cannot stat " + data, errno);
  }
  std::string suffix = ".damaged-" + utc_stamp();
  for (int n = 1; ::access((data + suffix).c_str(), F_OK) == 0; ++n) {
    suffix = ".damaged-" + utc_stamp() + "-" + std::to_string(n);
  }
  const std::string target = data + suffix;
  if (::rename(data.c_str(), target.c_str()) != 0) return errno_error("cannot rename " + data, errno);
  const std::string lock_mdb = dir + "/lock.mdb";
  if (::rename(lock_mdb.c_str(), (lock_mdb + suffix).c_str()) != 0 && errno != ENOENT) {
    return errno_error("cannot rename " + lock_mdb, errno);
  }
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());  // make the renames durable
  return target;
}

// Adds the queued aborts to the transaction.
static int queue_aborts(MDB_txn* txn, MDB_dbi dbi, const std::vector<PendingAbort>& aborts) {
  for (const auto& a : aborts) {
    if (a.upload_id.empty()) continue;
    MDB_val kv = val_of(a.upload_id), vv = val_of(a.key);
    if (int r = mdb_put(txn, dbi, &kv, &vv, 0)) return r;
  }
  return 0;
}

CpResult<void> CheckpointStore::put(const UploadRecord& r, const std::vector<PendingAbort>& aborts) {
  if (impl_->read_only) return impl_->read_only_error();
  const std::string k = db_key(r.key);
  const std::string v = encode(r);
  int rc = impl_->run_write([&](MDB_txn* txn) {
    MDB_val kv = val_of(k), vv = val_of(v);
    int e = mdb_put(txn, impl_->uploads, &kv, &vv, 0);
    return e != 0 ? e : queue_aborts(txn, impl_->aborts, aborts);
  });
  if (rc != 0) return impl_->error(rc, "put");
  return {};
}

CpResult<void> CheckpointStore::sync() {
  if (impl_->read_only || !impl_->env) return {};
  std::shared_lock lk(impl_->resize_mu);
  if (int rc = mdb_env_sync(impl_->env, 1); rc != 0) return impl_->error(rc, "mdb_env_sync");
  return {};
}

CpResult<std::vector<PendingAbort>> CheckpointStore::load_aborts() {
  std::vector<PendingAbort> out;
  if (!impl_->env || !impl_->have_dbs || impl_->no_aborts) return out;
  std::vector<std::pair<std::string, std::string>> rows;
  if (int rc = impl_->scan(impl_->aborts, &rows); rc != 0) return impl_->error(rc, "load_aborts");
  for (auto& [id, key] : rows) out.push_back({std::move(key), std::move(id)});
  return out;
}

CpResult<void> CheckpointStore::abort_done(const std::string& upload_id) {
  if (impl_->read_only) return impl_->read_only_error();
  int rc = impl_->run_write([&](MDB_txn* txn) {
    MDB_val kv = val_of(upload_id);
    int r = mdb_del(txn, impl_->aborts, &kv, nullptr);
    return r == MDB_NOTFOUND ? 0 : r;
  });
  if (rc != 0) return impl_->error(rc, "abort_done");
  return {};
}

CpResult<std::optional<UploadRecord>> CheckpointStore::get(const std::string& key) {
  if (!impl_->env || !impl_->have_dbs) return std::optional<UploadRecord>();
  const std::string k = db_key(key);
  std::string raw;
  bool found = false;
  int rc = impl_->run_read([&](MDB_txn* txn) {
    MDB_val kv = val_of(k), vv;
    int r = mdb_get(txn, impl_->uploads, &kv, &vv);
    if (r == MDB_NOTFOUND) return 0;
    if (r == 0) {
      raw = str_of(vv);
      found = true;
    }
    return r;
  });
  if (rc != 0) return impl_->error(rc, "get");
  if (!found) return std::optional<UploadRecord>();
  UploadRecord rec;
  std::string why;
  if (!decode(raw, &rec, &why))
    why = "record is damaged: " + why;
  else if (rec.key != key)
    why = "record holds key " + rec.key;
  else
    return std::optional<UploadRecord>(std::move(rec));
  return StoreError{StoreError::Damaged, "checkpoint record for " + key + " in " + impl_->dir +
                                             " cannot be trusted (" + why + "); load_all lists it as damaged"};
}

CpResult<void> CheckpointStore::remove(const std::string& key, const std::vector<PendingAbort>& aborts) {
  if (impl_->read_only) return impl_->read_only_error();
  const std::string k = db_key(key);
  int rc = impl_->run_write([&](MDB_txn* txn) {
    MDB_val kv = val_of(k);
    int r = mdb_del(txn, impl_->uploads, &kv, nullptr);
    if (r != 0 && r != MDB_NOTFOUND) return r;
    return queue_aborts(txn, impl_->aborts, aborts);
  });
  if (rc != 0) return impl_->error(rc, "remove");
  return {};
}

CpResult<void> CheckpointStore::mark_failed(const UploadRecord& r, const std::string& reason) {
  if (impl_->read_only) return impl_->read_only_error();
  UploadRecord f = r;
  f.state = UploadState::Failed;
  f.last_error = reason;
  f.updated = std::time(nullptr);
  const std::string k = db_key(r.key);
  const std::string v = encode(f);
  int rc = impl_->run_write([&](MDB_txn* txn) {
    MDB_val kv = val_of(k), vv = val_of(v);
    int e = mdb_put(txn, impl_->failed, &kv, &vv, 0);
    if (e != 0) return e;
    e = mdb_del(txn, impl_->uploads, &kv, nullptr);
    return e == MDB_NOTFOUND ? 0 : e;
  });
  if (rc != 0) return impl_->error(rc, "mark_failed");
  return {};
}

CpResult<void> CheckpointStore::mark_damaged_failed(const DamagedEntry& e) {
  if (impl_->read_only) return impl_->read_only_error();
  UploadRecord f;
  f.key = e.key;
  f.state = UploadState::Failed;
  f.last_error = "damaged checkpoint record: " + e.reason;
  f.created = f.updated = std::time(nullptr);
  const std::string fk = db_key(e.key);
  const std::string v = encode(f);
  int rc = impl_->run_write([&](MDB_txn* txn) {
    MDB_val raw_key = val_of(e.key), fkv = val_of(fk), vv = val_of(v), raw;
    int r = mdb_get(txn, impl_->uploads, &raw_key, &raw);
    if (r == 0) {
      // Copy: raw points into the map, which mdb_put may change.
      std::string bytes = str_of(raw);
      MDB_val bv = val_of(bytes);
      r = mdb_put(txn, impl_->damaged, &fkv, &bv, 0);
      if (r == 0) r = mdb_del(txn, impl_->uploads, &raw_key, nullptr);
    } else if (r == MDB_NOTFOUND) {
      r = 0;
    }
    if (r == 0) r = mdb_put(txn, impl_->failed, &fkv, &vv, 0);
    return r;
  });
  if (rc != 0) return impl_->error(rc, "mark_damaged_failed");
  return {};
}

CpResult<LoadedRecords> CheckpointStore::load_all() {
  LoadedRecords out;
  if (!impl_->env || !impl_->have_dbs) return out;
  std::vector<std::pair<std::string, std::string>> rows;
  if (int rc = impl_->scan(impl_->uploads, &rows); rc != 0) return impl_->error(rc, "load_all");
  for (auto& [k, v] : rows) {
    UploadRecord rec;
    std::string why;
    if (!decode(v, &rec, &why)) {
      out.damaged.push_back({k, why});
    } else if (db_key(rec.key) != k) {
      out.damaged.push_back({k, "stored under a key that does not match the record's key"});
    } else {
      out.good.push_back(std::move(rec));
    }
  }
  return out;
}

CpResult<std::vector<UploadRecord>> CheckpointStore::load_failed() {
  std::vector<UploadRecord> out;
  if (!impl_->env || !impl_->have_dbs) return out;
  std::vector<std::pair<std::string, std::string>> rows;
  if (int rc = impl_->scan(impl_->failed, &rows); rc != 0) return impl_->error(rc, "load_failed");
  for (auto& [k, v] : rows) {
    UploadRecord rec;
    std::string why;
    if (!decode(v, &rec, &why) || db_key(rec.key) != k) {
      // Never dropped: reported as a failed entry that cannot be trusted.
      rec = UploadRecord{};
      rec.key = k;
      rec.state = UploadState::Failed;
      rec.last_error = "damaged record in the failed table: " + (why.empty() ? "key mismatch" : why);
    }
    out.push_back(std::move(rec));
  }
  return out;
}

CpResult<void> CheckpointStore::remove_failed(const std::string& key) {
  if (impl_->read_only) return impl_->read_only_error();
  const std::string k = db_key(key);
  int rc = impl_->run_write([&](MDB_txn* txn) {
    MDB_val kv = val_of(k);
    int r = mdb_del(txn, impl_->failed, &kv, nullptr);
    if (r == 0 || r == MDB_NOTFOUND) r = mdb_del(txn, impl_->damaged, &kv, nullptr);
    return r == MDB_NOTFOUND ? 0 : r;
  });
  if (rc != 0) return impl_->error(rc, "remove_failed");
  return {};
}

CpResult<bool> CheckpointStore::unfail(const std::string& key) {
  if (impl_->read_only) return impl_->read_only_error();
  const std::string k = db_key(key);
  bool moved = false;
  int rc = impl_->run_write([&](MDB_txn* txn) {
    moved = false;
    MDB_val kv = val_of(k), vv;
    int r = mdb_get(txn, impl_->failed, &kv, &vv);
    if (r == MDB_NOTFOUND) return 0;
    if (r != 0) return r;
    UploadRecord rec;
    if (!decode(str_of(vv), &rec) || rec.key != key || rec.staging_path.empty()) return 0;
    rec.state = rec.upload_id.empty() ? UploadState::Pending : UploadState::Uploading;
    rec.attempts = 0;
    rec.last_error.clear();
    rec.updated = std::time(nullptr);
    const std::string v = encode(rec);
    MDB_val nv = val_of(v);
    if ((r = mdb_put(txn, impl_->uploads, &kv, &nv, 0)) != 0) return r;
    if ((r = mdb_del(txn, impl_->failed, &kv, nullptr)) != 0) return r;
    moved = true;
    return 0;
  });
  if (rc != 0) return impl_->error(rc, "unfail");
  return moved;
}

size_t CheckpointStore::map_size() const {
  std::shared_lock lk(impl_->resize_mu);
  return impl_->map_size;
}

bool CheckpointStore::read_only() const { return impl_->read_only; }

}  // namespace bucketfs::checkpoint
