// bucket_replay.hpp - the bucket as it was at a crash point: every change the
// recorded run's MemoryObjectStore applied is logged as an event (in the same
// total order as the file operations, from the store's observer hook), and
// replayed here through the store's public API, so upload ids, parts and
// ETags come out exactly as they were.
//
//   ev store op=put key=K meta=M ct=C #N              (the object's bytes)
//   ev store op=remove key=K
//   ev store op=copy key=DST src=SRC [meta=M ct=C]    (meta: replaced)
//   ev store op=create_multipart key=K id=U meta=M ct=C
//   ev store op=upload_part key=K id=U n=P #N         (the part's bytes)
//   ev store op=complete_multipart key=K id=U parts=1:ETAG,2:ETAG
//   ev store op=abort_multipart key=K id=U
// M is "name:value,..." with ',', ':' and '%' percent-encoded.
// Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bucketfs/store/memory_object_store.hpp"
#include "trace_log.hpp"

namespace crash {

// The event a change becomes (text for EventLog::emit, payload in *data).
std::string store_event(const bucketfs::store::MemoryObjectStore::Change& c, const std::string** data);

class BucketReplay {
 public:
  explicit BucketReplay(uint64_t min_part_size);
  ~BucketReplay();
  // Applies one "ev store" record; anything else is ignored.
  void apply(const Record& r);
  const bucketfs::store::MemoryObjectStore& store() const { return *store_; }
  size_t applied() const { return applied_; }
  // Replays that did not go as recorded (a bug in the harness or the store).
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::unique_ptr<bucketfs::store::MemoryObjectStore> store_;
  int part_fd_ = -1;  // a memfd holding the part being replayed
  size_t applied_ = 0;
  std::vector<std::string> errors_;
};

}  // namespace crash
