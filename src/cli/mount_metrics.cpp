// mount_metrics.cpp - see mount_metrics.hpp.
#include "bucketfs/cli/mount_metrics.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstring>
#include <string>
#include <vector>

#include "bucketfs/util/fd.hpp"

namespace bucketfs::cli {

namespace {

// Bytes the staged files take on disk (allocated blocks).
uint64_t staging_used(const std::string& dir) {
  uint64_t used = 0;
  Dir d;
  std::vector<std::string> names;
  if (Dir::open(dir, &d) != 0 || d.list(&names) != 0) return 0;
  for (const auto& n : names) {
    if (n.size() < 5 || n.compare(n.size() - 5, 5, ".data") != 0) continue;
    struct stat st;
    if (::fstatat(d.fd(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) used += uint64_t(st.st_blocks) * 512;
  }
  return used;
}

void collect(metrics::Registry& m, const MountMetricsSources& s) {
  double files = 0, bytes = 0;
  if (s.uploader != nullptr && *s.uploader) {
    for (const auto& p : (*s.uploader)->pending()) {
      files += 1;
      bytes += static_cast<double>(p.mark.size);
    }
  }
  m.gauge("bucketfs_pending_files", "Files closed but not yet complete in the bucket").set(files);
  m.gauge("bucketfs_pending_bytes", "Bytes of the files pending upload").set(bytes);
  if (s.checkpoint != nullptr && *s.checkpoint) {
    if (auto failed = (*s.checkpoint)->load_failed())
      m.gauge("bucketfs_failed_uploads", "Uploads in the failed table (see bucketfs status)")
          .set(static_cast<double>(failed->size()));
  }
  if (!s.staging_dir.empty()) {
    m.gauge("bucketfs_staging_used_bytes", "Disk space the staged files take")
        .set(static_cast<double>(staging_used(s.staging_dir)));
    struct statvfs vfs;
    if (::statvfs(s.staging_dir.c_str(), &vfs) == 0)
      m.gauge("bucketfs_staging_free_bytes", "Free space on the staging filesystem (for unprivileged users)")
          .set(static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize));
  }
  if (s.credentials) {
    creds::ProviderState st = s.credentials->state();
    const metrics::Labels source = {{"source", st.kind}};
    m.gauge("bucketfs_credentials_valid", "1 when the mount has credentials that have not expired", source)
        .set(st.usable ? 1 : 0);
    m.gauge("bucketfs_credentials_expiry_timestamp_seconds",
            "When the credentials in use expire (unix time; 0: they do not)", source)
        .set(st.expiration ? static_cast<double>(*st.expiration) : 0);
    // Counters mirrored from the provider's own counts, which only grow.
    auto& ok = m.counter("bucketfs_credential_refreshes_total", "Credential refreshes, by outcome",
                         {{"source", st.kind}, {"outcome", "ok"}});
    if (st.refreshes > ok.value()) ok.inc(st.refreshes - ok.value());
    auto& failed = m.counter("bucketfs_credential_refreshes_total", "Credential refreshes, by outcome",
                             {{"source", st.kind}, {"outcome", "failed"}});
    if (st.refresh_failures > failed.value()) failed.inc(st.refresh_failures - failed.value());
  }
}

}  // namespace

void add_mount_collectors(metrics::Registry& registry, MountMetricsSources sources) {
  registry.add_collector([s = std::move(sources)](metrics::Registry& m) { collect(m, s); });
}

}  // namespace bucketfs::cli
