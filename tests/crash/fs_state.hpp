// fs_state.hpp - one crash state of the traced directory: which names exist
// and what each file holds (bytes, size, extended attributes), and how to put
// it on disk so the code under test can recover from it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace crash {

// A file's content as a crash left it. bytes may run past size (data a
// journal-model state persisted beyond the size it persisted): only
// [0, size) is the file, zero-filled where bytes is shorter.
struct Image {
  std::string bytes;
  uint64_t size = 0;
  int64_t mtime = -1;  // ns; -1: whatever materializing gives
  std::map<std::string, std::string> xattrs;

  void write(uint64_t off, const char* data, size_t n, bool grow);  // grow: size follows
  void set_size(uint64_t n);                                        // truncate (or grow with zeros)
  void extend(uint64_t n);      // size grows to n (bytes already written past size show)
  std::string content() const;  // exactly size bytes
};

struct FsState {
  std::map<std::string, long> ns;  // reachable names (relative; "" is the traced dir) -> id
  std::set<long> dirs;             // which ids are directories
  std::map<long, Image> files;     // the file ids in ns

  // Equal states hash equal (names, kinds, contents, xattrs).
  uint64_t hash() const;
  // Creates root (must not exist: the caller removes the old state) and
  // everything in the state under it, directories 0700, files 0600 with
  // their xattrs and mtimes. "" or an error line.
  std::string materialize(const std::string& root) const;
};

// rm -rf path (no error if it does not exist); false and *error otherwise.
bool remove_tree(const std::string& path, std::string* error);

}  // namespace crash
