// key_mapper.hpp - mount-relative paths <-> object keys, and name checks.
//
// A path is relative to the mount root, without leading or trailing '/'
// ("" is the root, "a/b" a child of "a"). The file "a/b" is the key
// prefix+"a/b"; the directory "a/b" is the key prefix prefix+"a/b/" (its
// marker object has exactly that key). Pure functions; thread-safe.
#pragma once

#include <string>

#include "bucketfs/store/object_store.hpp"

namespace bucketfs::fs {

// Advances req to the page after page; false when the listing is complete.
// A truncated page without a token (some servers) continues after its last
// key or prefix.
bool next_page(const store::ListPage& page, store::ListRequest* req);

class KeyMapper {
 public:
  // Normalizes "bucket:/a/b" style prefixes: strips leading '/', adds a
  // trailing '/' unless empty, collapses duplicate '/'.
  explicit KeyMapper(const std::string& prefix);

  const std::string& prefix() const { return prefix_; }
  std::string file_key(const std::string& path) const { return prefix_ + path; }
  // The root's directory key is the prefix itself ("" for a whole bucket).
  std::string dir_key(const std::string& path) const { return path.empty() ? prefix_ : prefix_ + path + "/"; }

  // 0, or ENAMETOOLONG for a key over the store's 1024-byte limit.
  static int check_key(const std::string& key);
  // 0, or ENAMETOOLONG (over 255 bytes) / EINVAL (empty, ".", "..", contains
  // '/' or NUL). Control characters such as '\n' are accepted.
  static int check_name(const std::string& name);

  static std::string join(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "/" + name;
  }
  static std::string parent_of(const std::string& path);
  static std::string name_of(const std::string& path);
  // Whether path lies strictly under dir ("" contains every non-empty path).
  static bool is_under(const std::string& path, const std::string& dir);

 private:
  std::string prefix_;
};

}  // namespace bucketfs::fs
