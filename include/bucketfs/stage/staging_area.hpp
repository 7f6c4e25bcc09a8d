// staging_area.hpp - the local files that hold written data until it is uploaded.
//
// Layout: DIR/<id>.data holds the bytes (mode 0600; DIR is 0700). A data file
// whose version was closed carries a ClosedMark (closed_mark.hpp): in the
// extended attribute user.bucketfs.mark, or in DIR/<id>.mark where the
// filesystem has no xattrs (or the mark is too large for one). The marks are
// the durable truth of what must reach the bucket; see "Durability" below.
//
// Durability (the order every caller relies on; a power cut keeps only what
// was fsynced):
//  - mark_closed: the data (size, mtime) is fsynced, then the directory entry
//    of a data file created since the last directory sync, then the mark is
//    written and fsynced. So a durable mark always describes durable bytes.
//  - rewrite_mark (rename or metadata change of a closed file) first fsyncs
//    DIR like drop_mark (a renamed mark stops shadowing older generations of
//    the old key, so their unlinks must be durable first); then the new mark
//    replaces the old one atomically (one setxattr, or write-and-rename of the
//    sidecar) and is fsynced. Where both an xattr and a sidecar mark exist, the
//    one with the higher generation counts.
//  - drop_mark first fsyncs DIR, making every earlier unlink in DIR durable
//    (older generations of the same key) before the mark goes, so a power cut
//    never leaves an older marked file without the newer one's mark; it and
//    remove_durably end with a directory fsync too.
//  - remove is not durable: only for files no mark describes any more, or
//    whose removal a later remove_durably/drop_mark/sync_dir covers.
//
// Safety: every file is opened relative to DIR's descriptor with O_NOFOLLOW,
// and a path is accepted only as a plain "<id>.data" child of DIR (owns()).
//
// Space: before data is added, check_space() checks that the filesystem under DIR
// keeps at least `reserve_bytes` free afterwards; if not it answers ENOSPC and
// nothing already staged is touched.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bucketfs/stage/closed_mark.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/result.hpp"

namespace bucketfs::stage {

struct StagedFile {
  std::string path;  // DIR/<id>.data
  Fd fd;             // open O_RDWR
};

enum class MarkState {
  None,     // never closed, or its upload was confirmed: nothing is promised
  Valid,    // closed; the file is exactly as it was closed
  Changed,  // closed, but its size or mtime differ from the mark: never upload it
  Damaged,  // a mark that does not decode: never trust it
};

struct StagedEntry {
  std::string path;  // DIR/<id>.data
  MarkState state = MarkState::None;
  ClosedMark mark;      // when Valid or Changed
  std::string problem;  // when Changed or Damaged: one line
};

class StagingArea {
 public:
  // Creates DIR (0700) if needed; an error message (one line) when it cannot.
  static Result<std::unique_ptr<StagingArea>, std::string> open(const std::string& dir, uint64_t reserve_bytes);

  const std::string& dir() const { return dir_; }
  uint64_t reserve_bytes() const { return reserve_; }

  // A new empty staging file. Errors are errno values.
  Result<StagedFile, int> create();
  // Whether path is a plain "<id>.data" child of DIR (no other path is ever
  // opened, uploaded or removed).
  bool owns(const std::string& path) const;
  // Opens a staging file of this area with O_NOFOLLOW; EINVAL for a path it
  // does not own.
  Result<Fd, int> open_file(const std::string& path, int flags) const;

  // Closes the version in fd (the data file at path): fills m->size and
  // m->mtime_ns from the file, then makes data, directory entry and mark
  // durable in that order. 0 or errno (ENOSPC when the mark cannot be stored).
  int mark_closed(const std::string& path, int fd, ClosedMark* m);
  // Replaces the mark of a closed file (same bytes) durably, after making
  // earlier unlinks in DIR durable. 0 or errno.
  int rewrite_mark(const std::string& path, const ClosedMark& m);
  // Forgets the mark durably (the upload is confirmed; the file stays for
  // open handles), after making earlier unlinks in DIR durable. 0 or errno.
  int drop_mark(const std::string& path);
  // Removes the data files and their marks, then fsyncs DIR. 0 or errno.
  int remove_durably(const std::vector<std::string>& paths);
  // Removes a data file and its mark, not durably. Missing files are fine.
  void remove(const std::string& path);
  // fsync of DIR if anything was created or removed since the last one.
  int sync_dir();
  // Write-behind: starts writing [off, off + len) of a data file to disk
  // without waiting (sync_file_range), so the fsync at close finds little left.
  static void write_behind(int fd, uint64_t off, uint64_t len);
  // 0 if `bytes` more can be written while keeping the reserve free, else ENOSPC.
  int check_space(uint64_t bytes);
  // Every staged data file with its mark, for recovery and status. With
  // tidy, leftover temporary marks and marks without a data file are removed.
  std::vector<StagedEntry> scan(bool tidy = true);
  // The mark of one staging file (MarkState as in scan()).
  StagedEntry read_entry(const std::string& path) const;

 private:
  StagingArea(std::string dir, Dir dfd, uint64_t reserve)
      : dir_(std::move(dir)), dfd_(std::move(dfd)), reserve_(reserve) {}
  int write_mark(const std::string& name, int fd, const ClosedMark& m);
  void note_change() { ++changes_; }

  std::string dir_;
  Dir dfd_;
  uint64_t reserve_;
  std::mutex mu_;  // serialises id generation
  uint64_t counter_ = 0;
  std::atomic<uint64_t> changes_{0};  // creations and removals in DIR so far
  std::mutex sync_mu_;                // one directory fsync at a time; guards synced_
  uint64_t synced_ = 0;               // changes_ covered by the last directory fsync
  std::atomic<bool> xattrs_{true};    // cleared once the filesystem refuses xattrs
};

}  // namespace bucketfs::stage
