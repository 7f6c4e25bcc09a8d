// status_fixture.cpp - fills a state dir with three closed staged files (their
// marks, as a close writes them) and checkpoint records in each state (queued
// with no record, uploading with 3 of 8 parts, failing with an error), plus one
// entry in the failed table, so `bucketfs status` can be checked in all its
// forms without a mount. The files are sparse.
// Usage: status_fixture STATE_DIR [FAILED_KEY FAILED_UPLOAD_ID]: the record in
// the failed table gets that key and multipart upload id (an upload bucketfs
// started and nothing will resume, for `bucketfs uploads`).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/upload/recovery.hpp"

using namespace bucketfs;
using namespace bucketfs::checkpoint;

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "status_fixture: %s\n", what.c_str());
  return 1;
}

// A closed staged file of `size` bytes for key.
bool stage_closed(stage::StagingArea& area, const std::string& key, uint64_t size, upload::ClosedFile* out) {
  auto f = area.create();
  if (!f || ::ftruncate(f->fd.get(), static_cast<off_t>(size)) != 0) return false;
  out->staging_path = f->path;
  out->mark.key = key;
  out->mark.generation = 1;
  return area.mark_closed(f->path, f->fd.get(), &out->mark) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: status_fixture STATE_DIR [FAILED_KEY FAILED_UPLOAD_ID]\n");
    return 2;
  }
  std::string dir = argv[1];
  auto cp = CheckpointStore::open(dir + "/checkpoint", false);
  if (!cp) return fail(cp.error().message);
  auto area = stage::StagingArea::open(dir + "/staging", 0);
  if (!area) return fail(area.error());
  const uint64_t MiB = 1 << 20;
  upload::ClosedFile queued, big, log;
  if (!stage_closed(**area, "docs/report.pdf", 3 * MiB, &queued) ||
      !stage_closed(**area, "video/big.mp4", 64 * MiB, &big) || !stage_closed(**area, "logs/app.log", 1000, &log))
    return fail("cannot stage the files");

  UploadRecord uploading = upload::fresh_record(big, "");
  uploading.part_size = 8 * MiB;
  uploading.upload_id = "2~fixture";
  uploading.state = UploadState::Uploading;
  for (int n = 1; n <= 3; ++n) uploading.parts.push_back({n, 8 * MiB, "etag" + std::to_string(n), ""});

  UploadRecord failing = upload::fresh_record(log, "");
  failing.state = UploadState::Failed;
  failing.attempts = 3;
  failing.last_error = "Transient (503 SlowDown) (after 6 attempts)";

  UploadRecord gone = failing;
  gone.key = "tmp/lost.bin";
  gone.staging_path = dir + "/staging/d.data";
  gone.size = 42;
  gone.attempts = 0;
  if (argc == 4) {
    gone.key = argv[2];
    gone.upload_id = argv[3];
  }

  for (const auto* r : {&uploading, &failing}) {
    if (auto p = (*cp)->put(*r); !p) return fail(p.error().message);
  }
  if (auto f = (*cp)->mark_failed(gone, "the staging file " + gone.staging_path + " is missing"); !f)
    return fail(f.error().message);
  return 0;
}
