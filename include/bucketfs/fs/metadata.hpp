// metadata.hpp - s3fs-compatible attributes <-> object metadata.
//
// s3fs (and ossfs) keep POSIX attributes in user metadata: "mode" is the
// decimal st_mode including the file type bits (a FIFO, socket or device is
// an empty object with its type here, and a device's number in "rdev"),
// "uid"/"gid" decimal ids, "mtime", "atime" and "ctime" decimal seconds
// (possibly with a fraction). Objects without them get the mount's
// defaults: owner uid/gid, mode 0666/0777 & ~umask, times = Last-Modified.
// Pure functions; thread-safe.
#pragma once

#include <ctime>

#include "bucketfs/fs/caches.hpp"
#include "bucketfs/fs/options.hpp"
#include "bucketfs/store/object_store.hpp"

namespace bucketfs::fs {

// What the object at a file key is, from its HEAD: a regular file or, when
// the metadata mode says so, a symlink, FIFO, socket or device.
Attr file_attr_from_head(const store::ObjectInfo& info, const Options& opts);
// A directory; info is its marker's HEAD, or null for an implied directory.
Attr dir_attr(const store::ObjectInfo* marker, const Options& opts, std::time_t fallback_mtime);
// A regular file from a listing entry (no metadata known yet).
Attr file_attr_from_listing(const store::ObjectInfo& info, const Options& opts);

// The metadata s3fs writes for these attributes (mode, uid, gid, mtime,
// atime, ctime, rdev for devices), merged over base so unrelated user
// metadata survives.
store::Metadata to_metadata(const Attr& a, store::Metadata base = {});

// Whether the object carries any of the POSIX attributes above (written by
// s3fs, ossfs, rclone's mtime or bucketfs itself).
bool carries_posix_metadata(const store::ObjectInfo& info);

}  // namespace bucketfs::fs
