// metadata.cpp - see metadata.hpp.
#include "bucketfs/fs/metadata.hpp"

#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace bucketfs::fs {
namespace {

std::optional<unsigned long> parse_uint(const store::Metadata& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end()) return std::nullopt;
  unsigned long v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  return v;
}

std::optional<struct timespec> parse_time(const store::Metadata& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end() || it->second.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(v);
  ts.tv_nsec = static_cast<long>((v - static_cast<double>(ts.tv_sec)) * 1e9);
  if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L) ts.tv_nsec = 0;
  return ts;
}

struct timespec from_time_t(std::time_t t) {
  struct timespec ts {};
  ts.tv_sec = t;
  return ts;
}

// Applies mode/uid/gid/mtime/atime/ctime/rdev found in metadata over the
// defaults in *a. The file type stays the caller's unless the metadata names
// one a file key may hold (a symlink, a FIFO, a socket or a device) and
// allow_types is set.
void apply_metadata(const store::Metadata& m, Attr* a, bool allow_types) {
  if (auto mode = parse_uint(m, "mode")) {
    mode_t type = static_cast<mode_t>(*mode) & S_IFMT;
    mode_t keep_type = a->mode & S_IFMT;
    if (allow_types &&
        (type == S_IFLNK || type == S_IFIFO || type == S_IFSOCK || type == S_IFCHR || type == S_IFBLK))
      keep_type = type;
    a->mode = keep_type | (static_cast<mode_t>(*mode) & 07777);
  }
  if (auto uid = parse_uint(m, "uid")) a->uid = static_cast<uid_t>(*uid);
  if (auto gid = parse_uint(m, "gid")) a->gid = static_cast<gid_t>(*gid);
  if (auto mt = parse_time(m, "mtime")) a->mtime = *mt;
  if (auto at = parse_time(m, "atime")) a->atime = *at;
  if (auto ct = parse_time(m, "ctime")) a->ctime = *ct;
  if (S_ISCHR(a->mode) || S_ISBLK(a->mode)) {
    if (auto rdev = parse_uint(m, "rdev")) a->rdev = static_cast<dev_t>(*rdev);
  }
}

}  // namespace

bool carries_posix_metadata(const store::ObjectInfo& info) {
  for (const char* k : {"mode", "uid", "gid", "mtime", "atime", "ctime"})
    if (info.meta.count(k)) return true;
  return false;
}

Attr file_attr_from_listing(const store::ObjectInfo& info, const Options& opts) {
  Attr a;
  a.exists = true;
  a.mode = S_IFREG | (0666 & ~opts.umask);
  a.uid = opts.uid;
  a.gid = opts.gid;
  a.size = info.size;
  a.mtime = from_time_t(info.last_modified);
  a.etag = info.etag;
  return a;
}

Attr file_attr_from_head(const store::ObjectInfo& info, const Options& opts) {
  Attr a = file_attr_from_listing(info, opts);
  apply_metadata(info.meta, &a, true);
  a.has_meta = true;
  return a;
}

Attr dir_attr(const store::ObjectInfo* marker, const Options& opts, std::time_t fallback_mtime) {
  Attr a;
  a.exists = true;
  a.mode = S_IFDIR | (0777 & ~opts.umask);
  a.uid = opts.uid;
  a.gid = opts.gid;
  a.mtime = from_time_t(fallback_mtime);
  a.has_meta = true;
  if (marker) {
    a.has_marker = true;
    a.mtime = from_time_t(marker->last_modified);
    a.etag = marker->etag;
    apply_metadata(marker->meta, &a, false);
  }
  return a;
}

store::Metadata to_metadata(const Attr& a, store::Metadata base) {
  base["mode"] = std::to_string(static_cast<unsigned>(a.mode));
  base["uid"] = std::to_string(static_cast<unsigned>(a.uid));
  base["gid"] = std::to_string(static_cast<unsigned>(a.gid));
  base["mtime"] = std::to_string(static_cast<long long>(a.mtime.tv_sec));
  // s3fs keeps atime and ctime beside mtime, whole seconds too.
  base["atime"] = std::to_string(static_cast<long long>(a.shown_atime().tv_sec));
  base["ctime"] = std::to_string(static_cast<long long>(a.shown_ctime().tv_sec));
  if (S_ISCHR(a.mode) || S_ISBLK(a.mode))
    base["rdev"] = std::to_string(static_cast<unsigned long long>(a.rdev));
  else
    base.erase("rdev");
  return base;
}

}  // namespace bucketfs::fs
