// status_fixture.cpp - fills a checkpoint store with one record in each state
// (pending, uploading with 3 of 8 parts, failing with an error, and one in the
// failed table) so `bucketfs status` can be checked in all its forms without
// a mount. Usage: status_fixture STATE_DIR [FAILED_KEY FAILED_UPLOAD_ID]: the
// record in the failed table gets that key and multipart upload id (an upload
// bucketfs started and nothing will resume, for `bucketfs uploads`).
#include <cstdio>
#include <ctime>

#include "bucketfs/checkpoint/checkpoint_store.hpp"

using namespace bucketfs::checkpoint;

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: status_fixture STATE_DIR [FAILED_KEY FAILED_UPLOAD_ID]\n");
    return 2;
  }
  std::string dir = argv[1];
  auto cp = CheckpointStore::open(dir + "/checkpoint", false);
  if (!cp) {
    std::fprintf(stderr, "status_fixture: %s\n", cp.error().message.c_str());
    return 1;
  }
  const uint64_t MiB = 1 << 20;
  UploadRecord pending;
  pending.key = "docs/report.pdf";
  pending.staging_path = dir + "/staging/a.data";
  pending.size = 3 * MiB;
  pending.generation = 1;
  pending.state = UploadState::Pending;
  pending.updated = std::time(nullptr);

  UploadRecord uploading = pending;
  uploading.key = "video/big.mp4";
  uploading.staging_path = dir + "/staging/b.data";
  uploading.size = 64 * MiB;
  uploading.part_size = 8 * MiB;
  uploading.upload_id = "2~fixture";
  uploading.state = UploadState::Uploading;
  for (int n = 1; n <= 3; ++n) uploading.parts.push_back({n, 8 * MiB, "etag" + std::to_string(n), ""});

  UploadRecord failing = pending;
  failing.key = "logs/app.log";
  failing.staging_path = dir + "/staging/c.data";
  failing.size = 1000;
  failing.state = UploadState::Failed;
  failing.attempts = 3;
  failing.last_error = "Transient (503 SlowDown) (after 6 attempts)";

  UploadRecord gone = pending;
  gone.key = "tmp/lost.bin";
  gone.staging_path = dir + "/staging/d.data";
  gone.size = 42;
  if (argc == 4) {
    gone.key = argv[2];
    gone.upload_id = argv[3];
  }

  for (const auto* r : {&pending, &uploading, &failing}) {
    if (auto p = (*cp)->put(*r); !p) {
      std::fprintf(stderr, "status_fixture: %s\n", p.error().message.c_str());
      return 1;
    }
  }
  if (auto f = (*cp)->mark_failed(gone, "the staging file " + gone.staging_path + " is missing"); !f) {
    std::fprintf(stderr, "status_fixture: %s\n", f.error().message.c_str());
    return 1;
  }
  return 0;
}
