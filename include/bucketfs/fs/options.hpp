// options.hpp - the mount's filesystem-level settings, filled by cli/ and
// passed by value to fs::Filesystem (no globals, no static members).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace bucketfs::fs {

struct Options {
  // Key prefix the mount shows as its root ("bucket:/a/b" -> "a/b/"). Leading
  // '/' is ignored and a trailing '/' is added by the Filesystem; empty means
  // the whole bucket.
  std::string prefix;

  // Owner and permissions of objects that carry no s3fs metadata (and of the
  // root). umask is applied only to those defaults: files 0666 & ~umask,
  // directories 0777 & ~umask. Metadata-supplied modes are shown as stored.
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  mode_t umask = 0022;

  // Seconds that attributes (incl. "does not exist" answers) and directory
  // listings are trusted; also the kernel's entry/attr timeouts. 0 disables.
  double stat_ttl = 5.0;
  double dir_ttl = 5.0;

  // Mutating operations fail with EROFS.
  bool read_only = false;

  // Sequential reads prefetch a window that starts at prefetch_min_window and
  // doubles up to prefetch_max_window; all open files together hold at most
  // prefetch_memory_budget bytes of prefetched data (a read then fetches only
  // what it needs). 16 MiB windows: with the next GET already under way
  // while the reader drains a window, larger ones only cost fresh memory
  // (each window's pages are faulted and zeroed once per open file).
  uint64_t prefetch_min_window = 1ull << 20;
  uint64_t prefetch_max_window = 16ull << 20;
  uint64_t prefetch_memory_budget = 512ull << 20;

  // ListObjects page size (max_keys); tests set it small to exercise paging.
  int list_page_size = 1000;

  // Whether readdir HEADs the entries whose s3fs metadata (mode/uid/gid/
  // mtime) is not cached yet, up to readdir_head_parallel at once, so that
  // `ls -l` shows stored modes. On: every such entry. Auto: first a sample
  // of readdir_head_parallel entries spread over the listing; the rest only
  // when one of them carries metadata (a directory written by s3fs or
  // bucketfs), else the listing's attributes stand. Off: listing attributes
  // only (size, Last-Modified, default mode), one request per listing page.
  enum class ReaddirMeta { Off, Auto, On };
  ReaddirMeta readdir_meta = ReaddirMeta::Auto;
  int readdir_head_parallel = 16;
};

}  // namespace bucketfs::fs
