// recovery.hpp - what a mount does with the staging area and the checkpoint
// store it finds: the one recovery policy, shared by Uploader::resume() and
// `bucketfs recover`.
//
// The staging files' closed marks are the truth (stage/staging_area.hpp); the
// checkpoint records only add progress. The policy, per object key:
//  - Of the staging files whose mark is valid, the highest generation wins;
//    every other marked file of that key is superseded and removed.
//  - A file without a mark was never closed (or its upload was confirmed):
//    nothing was promised; it is removed.
//  - A mark that is damaged, whose file changed after close, or whose key lies
//    outside the mount's prefix is never uploaded: it goes to the failed table
//    (the file is kept for the user).
//  - A record is kept only if it describes the winner exactly (key,
//    generation, staging file, size); any other record is stale: it is
//    dropped and its multipart upload queued for abort.
//  - A winner's object metadata and content type come from its mark; a mark
//    written by an older bucketfs (key and generation only) takes them from a
//    record of the same generation, if there is one.
// So one key has at most one upload, always of its newest closed version, and
// a rolled-back store (a lost last commit) can only lose progress.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/checkpoint/record.hpp"
#include "bucketfs/stage/staging_area.hpp"

namespace bucketfs::upload {

// A closed staged file to upload.
struct ClosedFile {
  std::string staging_path;
  stage::ClosedMark mark;
};

struct RecoveryPlan {
  struct Resume {
    ClosedFile file;
    std::optional<checkpoint::UploadRecord> progress;  // a record that matches the mark exactly
  };
  struct Failed {
    checkpoint::UploadRecord record;  // what status shows
    std::string reason;
  };
  std::vector<Resume> uploads;                          // one per key, newest generation
  std::vector<std::string> remove;                      // unmarked and superseded staging files
  std::vector<checkpoint::UploadRecord> stale_records;  // to drop (their upload ids aborted)
  std::vector<Failed> failed;                           // new entries for the failed table
  // Keys whose upload gave up (failed table) but whose closed file is still
  // the one to upload: tried again, from the failed record's progress.
  std::vector<std::string> unfail;
};

// Decides what to do; changes nothing. `prefix` is the mount's key prefix
// ("" for a whole bucket); `failed` is the failed table as it is, so a file
// already reported there is not reported again.
RecoveryPlan plan_recovery(const std::vector<stage::StagedEntry>& staged,
                           const std::vector<checkpoint::UploadRecord>& records,
                           const std::vector<checkpoint::UploadRecord>& failed, const std::string& prefix,
                           const std::string& bucket);

// The checkpoint record an upload of f starts from (no progress).
checkpoint::UploadRecord fresh_record(const ClosedFile& f, const std::string& bucket);

}  // namespace bucketfs::upload
