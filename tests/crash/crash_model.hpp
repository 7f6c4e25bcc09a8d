// crash_model.hpp - every state a file system may legally leave after a power
// cut at a point of a recorded history, under two models (as ALICE and
// CrashMonkey reason about file systems):
//
// Posix (POSIX, btrfs-like ordering): each file's operations (writes,
//   truncates, xattr changes) form a stream, and so do each directory's
//   entry changes (create, link, unlink, rmdir, rename; a rename across
//   directories belongs to both streams and persists only if both keep it).
//   fsync/fdatasync of a file makes its stream durable up to there (data,
//   size and xattrs); fsync of a directory makes its entries durable; sync(2)
//   makes everything durable. A new file's name, an unlink or a rename is
//   durable only after an fsync of its directory. After a crash, each
//   stream keeps any prefix of its not yet durable operations.
//
// Journal (ext4/xfs with an ordered journal): metadata operations (create,
//   link, unlink, rmdir, rename, truncate, setxattr, removexattr, and the size
//   growth of a write) persist as ONE global prefix in log order. fsync of
//   anything (file or directory) forces that prefix up to itself; fdatasync
//   forces it only when its file has a size change not yet forced (as ext4
//   commits the running transaction only then); sync forces everything. Data
//   writes are durable only if their file was fsynced or fdatasynced after
//   them; otherwise each 4 KiB block of a write (aligned to file offsets) may
//   independently be lost: the file then shows its older bytes there, or
//   zeros where it grew.
//
// A StateSpec names one state: the crash point, plus what was lost
// (Posix: how many of each stream's non-durable operations persist; Journal:
// how long a prefix of the non-durable metadata persists, and which data
// blocks were lost). "Everything persisted" is the state a process crash
// (kill -9) leaves.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fs_history.hpp"
#include "fs_state.hpp"

namespace crash {

enum class Model { Posix, Journal };
const char* model_name(Model m);  // "posix", "journal"
std::optional<Model> parse_model(const std::string& s);

constexpr uint64_t kBlock = 4096;          // the unit a journal-model data loss takes
using Unit = std::pair<size_t, uint32_t>;  // (op index of a Write, its n-th block)

struct StateSpec {
  Model model = Model::Posix;
  size_t point = 0;             // ops [0, point) happened
  std::map<long, size_t> keep;  // Posix: stream -> how many non-durable ops persist (absent: all)
  size_t meta_keep = SIZE_MAX;  // Journal: non-durable metadata ops that persist (a prefix)
  std::set<Unit> dropped;       // Journal: data blocks lost

  // "posix@POINT[:k=STREAM.N,...]" / "journal@POINT[:m=N][:d=OP.UNIT,...]"
  std::string encode() const;
  static std::optional<StateSpec> decode(const std::string& s);
};

// What is not yet durable at a point.
struct Pending {
  std::map<long, std::vector<size_t>> streams;  // Posix: stream id -> its non-durable ops (op indices)
  std::vector<size_t> meta;                     // Journal: non-durable metadata ops, in order
  std::vector<Unit> units;                      // Journal: data blocks that may be lost
  size_t count() const;                         // operations (and blocks) that may be lost
};

// Walks a history forward, keeping what is durable so far, and builds the
// state a spec describes at the current point. Not thread-safe.
class Sweeper {
 public:
  Sweeper(const History& h, Model m);
  // Moves the crash point forward to `point` (never backward).
  void advance(size_t point);
  size_t point() const { return k_; }
  Model model() const { return m_; }
  const Pending& pending() const { return pending_; }

  FsState build(const StateSpec& s) const;
  // One line per operation the spec loses: "#REC kind path detail".
  std::vector<std::string> describe(const StateSpec& s) const;
  size_t lost_count(const StateSpec& s) const;

  StateSpec everything() const;            // nothing lost (a process crash)
  StateSpec nothing() const;               // every non-durable operation lost
  std::vector<StateSpec> singles() const;  // each one operation (with what must go with it) lost
  StateSpec random(std::mt19937_64& rng) const;

 private:
  bool kept(size_t op, const StateSpec& s) const;  // a non-Write op at index op < point
  bool unit_kept(size_t op, uint32_t unit, const StateSpec& s) const;
  void apply(Image& img, size_t op, const StateSpec* s) const;  // s null: all of it
  size_t count_before(const std::vector<size_t>& v, size_t bound) const;
  size_t durable_bound(long file) const;  // file ops below this op index are durable
  void fold();
  void compute_pending();
  std::string describe_op(size_t i) const;

  const History& h_;
  const Model m_;
  size_t k_ = 0;
  // Precomputed from the history.
  std::map<long, std::vector<size_t>> stream_ops_;          // Posix streams
  std::vector<std::vector<std::pair<long, size_t>>> memb_;  // op -> (stream, index in it)
  std::vector<size_t> meta_ops_;                            // Journal metadata ops
  std::vector<size_t> meta_idx_;                            // op -> index in meta_ops_ (or SIZE_MAX)
  std::map<long, std::vector<size_t>> file_ops_;            // file -> its file ops
  // Durability so far.
  std::map<long, size_t> durable_;       // Posix: stream -> durable ops
  size_t forced_ = 0;                    // Journal: durable metadata ops
  std::map<long, size_t> data_pos_;      // Journal: file -> writes below this op index are durable
  size_t sync_pos_ = 0;                  // a sync(2): every write below it is durable
  std::map<long, size_t> last_size_op_;  // Journal: file -> meta index of its last size change
  // Images of the durable part of each file.
  std::map<long, Image> base_;
  std::map<long, size_t> folded_;  // file -> how many of its file ops are in base_
  Pending pending_;
};

// The 4 KiB blocks a write [off, off+len) touches: unit u covers [first, last).
std::pair<uint64_t, uint64_t> unit_range(uint64_t off, uint64_t len, uint32_t u);
uint32_t unit_count(uint64_t off, uint64_t len);

}  // namespace crash
