// staging_area.hpp - the local files that hold written data until it is uploaded.
//
// Layout: DIR/<id>.data holds the bytes (mode 0600). Its closed mark (the
// extended attribute user.bucketfs.key, or DIR/<id>.key where the filesystem
// has no xattrs), written durably with the bytes when the file is closed
// (mark_closed) and dropped once its upload is confirmed (drop_key), holds
// the object key and the write generation, so
// every closed-but-not-uploaded file can be re-queued by `bucketfs recover`
// even if the checkpoint store is lost, and a file that was never closed
// (no sidecar) is never mistaken for one. DIR is created 0700.
//
// Space: before data is added, reserve() checks that the filesystem under DIR
// keeps at least `reserve_bytes` free afterwards; if not it answers ENOSPC and
// nothing already staged is touched.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bucketfs/util/result.hpp"

namespace bucketfs::stage {

struct StagedFile {
  std::string path;  // DIR/<id>.data
  int fd = -1;       // open O_RDWR; the caller owns it (close when done)
};

struct StagedEntry {
  std::string path;         // the .data file
  std::string key;          // from the .key sidecar ("" if there is none: never closed, or uploaded)
  uint64_t generation = 0;  // from the sidecar
};

class StagingArea {
 public:
  // Creates DIR (0700) if needed; an error message (one line) when it cannot.
  static Result<std::unique_ptr<StagingArea>, std::string> open(const std::string& dir, uint64_t reserve_bytes);

  const std::string& dir() const { return dir_; }
  uint64_t reserve_bytes() const { return reserve_; }

  // A new empty staging file. Errors are errno values.
  Result<StagedFile, int> create();
  // Records durably that data_path is the closed version `generation` of key
  // (also on rename of a closed file); fsyncs the data file. 0 or errno.
  int mark_closed(const std::string& data_path, const std::string& key, uint64_t generation);
  // Forgets the sidecar durably (the upload is confirmed). 0 or errno.
  int drop_key(const std::string& data_path);
  // 0 if `bytes` more can be written while keeping the reserve free, else ENOSPC.
  int reserve(uint64_t bytes);
  // Removes the data file and its sidecar. Missing files are fine.
  void remove(const std::string& data_path);
  // Every staged file with its key, for recovery.
  std::vector<StagedEntry> scan() const;
  // Reads a sidecar; false if there is none (or it is unreadable).
  static bool read_key(const std::string& data_path, std::string* key, uint64_t* generation = nullptr);

 private:
  StagingArea(std::string dir, uint64_t reserve) : dir_(std::move(dir)), reserve_(reserve) {}
  std::string dir_;
  uint64_t reserve_;
  std::mutex mu_;  // serialises id generation
  uint64_t counter_ = 0;
};

}  // namespace bucketfs::stage
