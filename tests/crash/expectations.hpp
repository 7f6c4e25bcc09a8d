// expectations.hpp - what the bucket must hold after recovery from a crash at
// some point, from the program's events before that point (trace_log.hpp):
// per key, the set of versions it may hold.
//
// The rules (the guarantee of issue 11):
//  - a close (flush) or fsync that returned 0 makes its version the only one
//    allowed; one that began and had not returned adds its version (it may win);
//  - an unlink that returned makes "absent" the only answer; a rename that
//    returned moves the file's allowed versions to the new name and leaves
//    "absent" at the old one (a directory rename: every key under it); begun
//    and not returned: either;
//  - a chmod that returned with no writer open makes the new metadata
//    required; with a writer open, or not returned: either;
//  - bucket-init gives a key its version before the workload;
//  - a key never closed must be absent (directory markers, keys ending in
//    '/', are not checked).
// A version is content (sha256, size) and metadata (mode, uid, gid, mtime as
// the s3fs metadata holds them); "*" matches anything.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "trace_log.hpp"

namespace crash {

struct Object {
  std::string sha;  // hex sha256 of the bytes
  uint64_t size = 0;
  std::map<std::string, std::string> meta;
};

struct Version {
  bool absent = false;
  std::string sha = "*", size = "*", mode = "*", uid = "*", gid = "*", mtime = "*";
  std::string what;  // how it came to be, for messages ("close #7", "initial", ...)
  bool matches(const Object& o) const;
  bool same_content(const Object& o) const;
  std::string describe() const;
};

struct Violation {
  std::string kind;  // lost, stale, torn, metadata, resurrected, old-name, unexpected
  std::string key;
  std::string detail;
};

class Expectations {
 public:
  // Applies an "ev fuse ..." or "ev bucket-init ..." record; others are ignored.
  void apply(const Record& r);
  size_t applied() const { return applied_; }
  std::vector<Violation> check(const std::map<std::string, Object>& bucket) const;
  // The largest size any version of key had (bounds the requests of its upload).
  uint64_t max_size(const std::string& key) const;

 private:
  struct Name {
    std::vector<Version> acc;      // allowed now
    std::vector<Version> history;  // every version ever closed under this name
    std::string absent_why;        // why "absent" is required ("unlinked by #3", ...)
  };
  struct Inflight {
    std::map<std::string, std::string> f;
    std::map<std::string, Name> before;  // the names it touches, as they were at its begin
  };
  void begin(const std::map<std::string, std::string>& f);
  void end(const std::string& id, int rc);
  std::vector<std::pair<std::string, std::string>> moves(const std::string& from, const std::string& to,
                                                         bool dir) const;
  static void add(std::vector<Version>& set, const Version& v);
  // The entry of key, created as "never closed" (absent allowed) the first time.
  Name& name(const std::string& key);

  std::map<std::string, Name> names_;
  std::map<std::string, Inflight> inflight_;
  size_t applied_ = 0;
};

// sha256 of bytes, lower-case hex.
std::string sha256_hex(const std::string& bytes);

}  // namespace crash
