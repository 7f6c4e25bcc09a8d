// harness_mount.cpp - see harness_mount.hpp. Keep this in step with
// src/cli/mount_command.cpp (run_mount and the serve init lambda).
#include "harness_mount.hpp"

#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/fs/key_mapper.hpp"

namespace crash {

using namespace bucketfs;

Mount::~Mount() {
  // As run_mount's scope ends: the uploader (stopped), then the checkpoint
  // store, the filesystem, the staging area.
  uploader.reset();
  cp.reset();
  filesystem.reset();
  staging.reset();
}

std::string state_dir_of(const MountConfig& cfg) {
  return cli::layout_for(cfg.cache_dir, cfg.endpoint, cfg.bucket, cfg.fs.prefix).state_dir;
}

Result<std::unique_ptr<Mount>, std::string> mount(const MountConfig& cfg, store::ObjectStore& store) {
  auto m = std::make_unique<Mount>();
  if (auto d = cli::make_private_dirs(cfg.cache_dir); !d) return d.error();
  const cli::MountLayout layout = cli::layout_for(cfg.cache_dir, cfg.endpoint, cfg.bucket, cfg.fs.prefix);
  m->state_dir = layout.state_dir;
  m->checkpoint_dir = layout.checkpoint_dir;
  m->staging_dir = layout.staging_dir;
  if (auto d = cli::make_private_dirs(layout.state_dir); !d) return d.error();
  {
    // run_mount opens the store once before forking, to report a locked or
    // damaged store on the terminal.
    auto probe = checkpoint::CheckpointStore::open(layout.checkpoint_dir, false);
    if (!probe) return probe.error().message;
  }
  auto staging = stage::StagingArea::open(layout.staging_dir, cfg.ensure_diskfree);
  if (!staging) return staging.error();
  m->staging = std::move(staging.value());
  m->filesystem = std::make_unique<fs::Filesystem>(store, cfg.fs);

  // The serve init lambda (after the fork in the daemon).
  auto opened = checkpoint::CheckpointStore::open(layout.checkpoint_dir, false);
  if (!opened) return opened.error().message;
  m->cp = std::move(opened.value());
  upload::UploaderConfig ucfg;
  ucfg.bucket = cfg.bucket;
  ucfg.prefix = fs::KeyMapper(cfg.fs.prefix).prefix();
  ucfg.part_size = cfg.part_size;
  ucfg.concurrency = cfg.upload_concurrency;
  m->uploader = std::make_unique<upload::Uploader>(store, *m->cp, *m->staging, ucfg);
  auto resumed = m->uploader->resume();
  if (!resumed) return resumed.error().message;
  m->resumed = *resumed;
  m->filesystem->attach_write_backend({m->staging.get(), m->uploader.get(), cfg.sync_upload});
  m->uploader->start();
  return m;
}

bool unmount(std::unique_ptr<Mount> m, std::chrono::milliseconds grace) {
  if (!m) return true;
  bool drained = m->uploader ? m->uploader->stop(grace) : true;
  m.reset();
  return drained;
}

}  // namespace crash
