// maintenance.hpp - `bucketfs recover` and `bucketfs uploads`.
//
// recover re-queues every staged file that no checkpoint record covers: after
// a damaged store (moved aside first), a lost record, or a record moved to
// the failed table. It needs the store unmounted (the writer lock).
// uploads lists the multipart uploads in the bucket and says whose they are,
// and can abort those that are safe to abort.
//
// Whose an upload is: S3 and OSS return no metadata of an upload in progress
// (ListMultipartUploads and ListParts give key, upload id, initiation time and
// the initiating account, not the x-amz-meta-* headers sent at creation), and
// the account is shared by every tool using the same keys. So no mark sent to
// the server can tell our uploads from others'. What can is the record
// bucketfs keeps of each upload it starts: the checkpoint stores under the
// cache dir (every state dir, whatever endpoint spelling or prefix it was
// mounted with). Limits: an upload of a mount on another host or with another
// cache dir, or of ours whose cache dir was lost, is "unknown" like any other
// tool's; those are aborted only with --older-than, judged by their
// initiation time (a long upload still in progress can be older than that).
#pragma once

#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bucketfs/util/result.hpp"

namespace bucketfs::cli {

// The upload ids the checkpoint stores under a cache dir hold.
struct LocalUploads {
  std::set<std::string> pending;  // of a pending record: a mount resumes it
  std::set<std::string> failed;   // of the failed table only: nothing resumes it
  size_t stores = 0;              // state dirs read
};

// Reads every state dir's store read-only (works while mounted). A missing
// cache dir is empty; a store or cache dir that cannot be read is an error
// (it might own any upload).
Result<LocalUploads, std::string> load_local_uploads(const std::string& cache_dir);

enum class UploadOwner { Pending = 0, Orphan = 1, Unknown = 2 };
UploadOwner classify_upload(const LocalUploads& local, const std::string& upload_id);
// Whether --abort-orphans may abort it: never a pending one, always an
// orphan, an unknown one only when older_than is given and it started at
// least that many seconds before now.
bool may_abort(UploadOwner owner, std::time_t initiated, std::optional<long> older_than, std::time_t now);
// "90", "90s", "15m", "12h", "7d" -> seconds; an error line otherwise.
Result<long, std::string> parse_duration(const std::string& text);

// argv after the subcommand; returns the exit code (0 ok, 1 failure, 2 usage).
int recover_main(const std::vector<std::string>& args);
int uploads_main(const std::vector<std::string>& args);

}  // namespace bucketfs::cli
