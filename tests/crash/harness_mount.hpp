// harness_mount.hpp - "mounting" bucketfs in-process, over any ObjectStore,
// wired exactly as src/cli/mount_command.cpp's run_mount does (the cache
// dir layout, the checkpoint store, the staging area, the uploader, resume,
// attach_write_backend, start), minus libfuse and the HTTP store. It is the ONE
// place of the crash harness that knows this sequence: when the daemon's
// recovery changes, change mount() and unmount() to match run_mount.
//
// Differences from the daemon, on purpose: part_size is in bytes (the CLI
// takes MiB; the harness uses 64 KiB parts so small files are multipart), and
// no mountpoint is registered (there is none).
// Thread-safety: a Mount is used from one thread; its Filesystem may be
// called from several (as FUSE would).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/object_store.hpp"
#include "bucketfs/upload/uploader.hpp"
#include "bucketfs/util/result.hpp"

namespace crash {

struct MountConfig {
  std::string cache_dir;
  std::string endpoint = "memory://crash-harness";
  std::string bucket = "crash";
  uint64_t part_size = 64 * 1024;
  unsigned upload_concurrency = 4;
  uint64_t ensure_diskfree = 0;
  bool sync_upload = false;
  bucketfs::fs::Options fs;
};

// What run_mount holds while serving, in the same declaration order (so
// they are destroyed in the same order).
struct Mount {
  std::unique_ptr<bucketfs::stage::StagingArea> staging;
  std::unique_ptr<bucketfs::fs::Filesystem> filesystem;
  std::unique_ptr<bucketfs::checkpoint::CheckpointStore> cp;
  std::unique_ptr<bucketfs::upload::Uploader> uploader;
  bucketfs::upload::ResumeReport resumed;
  std::string state_dir, checkpoint_dir, staging_dir;
  ~Mount();
};

// The state dir run_mount would use for this cache dir, endpoint and bucket.
std::string state_dir_of(const MountConfig& cfg);

// Opens everything and starts the uploader (recovery runs from here on).
// An error line when the mount would fail.
bucketfs::Result<std::unique_ptr<Mount>, std::string> mount(const MountConfig& cfg,
                                                            bucketfs::store::ObjectStore& store);
// As the daemon after fuse returns: stop starting parts, wait up to grace for
// those in flight; then everything is closed. False if requests were still in
// flight at the deadline.
bool unmount(std::unique_ptr<Mount> m, std::chrono::milliseconds grace = std::chrono::seconds(10));

}  // namespace crash
