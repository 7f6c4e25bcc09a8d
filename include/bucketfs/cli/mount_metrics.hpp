// mount_metrics.hpp - the gauges a mount computes when it is scraped:
// pending files and bytes (the uploader's queue), failed uploads (the
// checkpoint store's failed table), staging space used and free, and the
// credentials' state (valid, expiry, refreshes). The counters of requests,
// retries and bytes are counted where they happen (store/).
// Thread-safety: the collector runs on the metrics server's thread; what it
// reads (Uploader, CheckpointStore, CredentialProvider) is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/creds/provider.hpp"
#include "bucketfs/upload/uploader.hpp"
#include "bucketfs/util/metrics.hpp"

namespace bucketfs::cli {

struct MountMetricsSources {
  // Owned by the mount; may be null (read-only mount, not started yet).
  const std::unique_ptr<upload::Uploader>* uploader = nullptr;
  const std::unique_ptr<checkpoint::CheckpointStore>* checkpoint = nullptr;
  std::string staging_dir;
  std::shared_ptr<creds::CredentialProvider> credentials;
};

void add_mount_collectors(metrics::Registry& registry, MountMetricsSources sources);

}  // namespace bucketfs::cli
