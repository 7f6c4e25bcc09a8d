// fs_history.hpp - a trace turned into the sequence of operations the crash
// models reason about: namespace changes, data and size changes, extended
// attributes, syncs, and the program's events, each at one position.
//
// Position k (0..ops.size()) is a crash point: ops [0, k) happened, the rest
// did not. The recorder's baseline (the directory as it was when tracing
// began) is durable by definition.
//
// Volatile files are left out altogether: LMDB's lock.mdb (shared memory,
// rebuilt at open) and the checkpoint dir's flock file "lock"; a crash state
// never holds them (a fresh mount recreates them).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "trace_log.hpp"

namespace crash {

enum class Kind {
  Create,       // new empty file `path` (id)
  Mkdir,        // new directory `path` (id)
  Link,         // another name `path2` for id (at `path`)
  Unlink,       // `path` removed
  Rmdir,        // directory `path` removed
  Rename,       // `path` -> `path2` (replacing what was there)
  Write,        // data bytes at off (no size change in the journal model)
  Extend,       // the inode change of the Write that follows: size `size` (grows) and mtime (journal only)
  Trunc,        // size set to `size` (truncate, O_TRUNC, fallocate growth)
  SetXattr,     // name = data
  RemoveXattr,  // name removed
  Fsync,        // file id: data, size, xattrs; directory id: its entries
  Fdatasync,    // file id: data and size
  SyncAll,      // sync(2) / syncfs(2): everything
  Event,        // the program's own record (ev)
};
const char* kind_name(Kind k);

struct Op {
  Kind kind = Kind::Event;
  size_t rec = 0;  // index of the log record it comes from
  long id = 0;     // the file or directory it concerns
  std::string path, path2;
  uint64_t off = 0;    // Write
  uint64_t size = 0;   // Extend, Trunc
  int64_t mtime = -1;  // Create, Write, Extend, Trunc: the file's mtime (ns) after it; -1 unknown
  bool grows = false;  // Extend: the size grows
  std::string name;    // xattr name
  std::string_view data;
  long dir = 0, dir2 = 0;      // namespace ops: the parent directory (dir2: the target's, for Rename/Link)
  bool is_dir_op = false;      // Fsync/Fdatasync of a directory; Rename/Rmdir of a directory
  std::string where;           // file ops: the file's path then (for messages)
  const Record* ev = nullptr;  // Event
  bool namespace_op() const;
  bool file_op() const;  // Write, Extend, Trunc, SetXattr, RemoveXattr
};

struct BaseFile {
  std::string bytes;
  int64_t mtime = -1;
  std::map<std::string, std::string> xattrs;
};

struct History {
  std::string dir;  // the traced directory (absolute)
  std::vector<Op> ops;
  std::map<std::string, long> base_ns;  // the baseline: relative path -> id
  std::set<long> dirs;                  // ids that are directories
  std::map<long, BaseFile> base_files;  // baseline contents
  std::vector<std::string> warnings;    // what the models cannot represent
  size_t workload_start = 0;            // crash points start here ("ev workload-start"), else 0

  static History build(const Trace& t);
  // Whether a basename is a volatile file (see the file header).
  static bool volatile_name(const std::string& path);
};

// dirname of a relative path ("" for a top-level name, "." stays ".").
std::string parent_of(const std::string& path);

}  // namespace crash
