// checkpoint_store.hpp - pending-upload records in an LMDB environment.
//
// One environment per mount under the cache dir, opened with MDB_NOTLS (FUSE
// starts threads on demand), mdb_reader_check at open, the map grown on
// MDB_MAP_FULL. A lock file (flock) keeps a second writer off the same store.
// Databases: "uploads" (key -> encoded UploadRecord: the progress of one
// upload), "failed" (records that cannot be uploaded as they are: staging file
// missing/changed, damaged record), "damaged" (raw bytes of damaged records
// moved to "failed", for inspection), "aborts" (upload id -> key: multipart
// uploads to abort, queued in the same transaction that forgets them).
// Records are keyed by object key; keys too long for LMDB (over 400 bytes) are
// stored under a prefix + 64-bit hash and checked against the record's key.
// Every mutating call is one short write transaction, committed before it
// returns. Durability: a process crash keeps every commit; a system crash may
// undo the last one (MDB_NOMETASYNC), never corrupt the store. sync() makes all
// commits so far durable; callers use it where a later state depends on one.
// The truth of what must be uploaded is the staging files' closed marks
// (stage/staging_area.hpp); a record only adds progress to one. Thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bucketfs/checkpoint/record.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::checkpoint {

struct StoreError {
  enum Kind { Locked, Damaged, Io, NoSpace, NotFound, Other } kind = Other;
  std::string message;  // one line, says what to do
};

template <class T>
using CpResult = Result<T, StoreError>;

// A multipart upload that nothing will complete: aborted by the uploader, at
// the latest at the next mount (the queue is in the store).
struct PendingAbort {
  std::string key;
  std::string upload_id;
};

// A record that failed its checksum: its raw key is kept so it can be reported.
struct DamagedEntry {
  std::string key;
  std::string reason;
};

struct LoadedRecords {
  std::vector<UploadRecord> good;
  std::vector<DamagedEntry> damaged;
};

class CheckpointStore {
 public:
  // Opens (creating if needed) the store in `dir` (mode 0700). read_only opens
  // without taking the writer lock (for `bucketfs status`). Errors: Locked when
  // another process holds the writer lock; Damaged when the environment cannot
  // be opened as LMDB; Io otherwise.
  //
  // A read-only open of a dir that holds no store yet succeeds and behaves as
  // an empty store (mutating calls fail with Other); it does not see a store a
  // writer creates later. A dir on a network filesystem (NFS, SMB/CIFS, AFS,
  // Ceph) is refused (Io): LMDB's locks and mmap are not safe there. A Damaged
  // error's message names the file and the recovery path (quarantine()).
  static CpResult<std::unique_ptr<CheckpointStore>> open(const std::string& dir, bool read_only);
  // Same, with the initial LMDB map size in bytes (grown on demand; LMDB raises
  // it to what an existing environment already uses). Mainly for tests.
  static CpResult<std::unique_ptr<CheckpointStore>> open(const std::string& dir, bool read_only,
                                                         size_t initial_map_size);
  static constexpr size_t kDefaultMapSize = size_t{64} << 20;

  // Moves a damaged environment aside: data.mdb -> data.mdb.damaged-<UTC time>
  // (and lock.mdb likewise) in `dir`, so that the next open starts a fresh
  // store. Takes the writer lock while doing so (Locked if a writer runs).
  // Returns the new path of data.mdb. NotFound if there is no data.mdb.
  static CpResult<std::string> quarantine(const std::string& dir);
  ~CheckpointStore();
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;

  // Inserts or replaces the record of r.key and queues `aborts`, in one
  // transaction (a replaced upload id is never forgotten without its abort).
  CpResult<void> put(const UploadRecord& r, const std::vector<PendingAbort>& aborts = {});
  CpResult<std::optional<UploadRecord>> get(const std::string& key);
  // Removes the record of key (missing: ok) and queues `aborts`, in one transaction.
  CpResult<void> remove(const std::string& key, const std::vector<PendingAbort>& aborts = {});
  // Makes every commit so far durable (mdb_env_sync). Io on failure.
  CpResult<void> sync();
  // The queued aborts, and the removal of one that was carried out.
  CpResult<std::vector<PendingAbort>> load_aborts();
  CpResult<void> abort_done(const std::string& upload_id);
  // Moves a record (or a damaged raw entry) to the failed table with a reason.
  CpResult<void> mark_failed(const UploadRecord& r, const std::string& reason);
  CpResult<LoadedRecords> load_all();  // the uploads table
  CpResult<std::vector<UploadRecord>> load_failed();
  CpResult<void> remove_failed(const std::string& key);
  // Moves the failed record of key back to the uploads table, in one
  // transaction, with its progress (upload id, parts) kept and its attempts
  // and error cleared: the uploader tries it again (`bucketfs retry`, or a
  // remount). False when key has no failed record (or only a damaged one,
  // which has nothing to upload from).
  CpResult<bool> unfail(const std::string& key);
  // Moves a damaged raw entry of the uploads table (as returned by load_all) to
  // the failed table: it is listed by load_failed with key = the raw key and
  // state Failed, and its raw bytes are kept in a "damaged" table.
  CpResult<void> mark_damaged_failed(const DamagedEntry& e);

  // The current LMDB map size in bytes (grows on MDB_MAP_FULL).
  size_t map_size() const;
  bool read_only() const;

 private:
  struct Impl;
  explicit CheckpointStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bucketfs::checkpoint
