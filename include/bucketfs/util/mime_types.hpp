// mime_types.hpp - a Content-Type for an object from its name's extension,
// as s3fs, rclone and mountpoint-s3 set it: from /etc/mime.types (read once),
// else from a small built-in table; "application/octet-stream" when unknown.
//
// Thread-safety: MimeTypes is immutable after construction; content_type_for()
// loads the system table once (thread-safe) and may be called from any thread.
// Errors: a missing or unreadable mime.types is not an error (the built-in
// table is used).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace bucketfs::mime {

inline constexpr const char* kDefaultType = "application/octet-stream";

class MimeTypes {
 public:
  // The built-in table (common web, document, image, audio, video, archive types).
  static MimeTypes builtin();
  // Parses mime.types text ("type ext ext ...", '#' comments); for a repeated
  // extension the first line wins, as in Apache and nginx.
  static MimeTypes parse(std::string_view text);
  // Reads path; the built-in table when it cannot be read or holds nothing.
  static MimeTypes load(const std::string& path);

  // The type for the last path component's extension (case-insensitive), or
  // kDefaultType: "a/b.tar.GZ" -> application/gzip, "README" or ".bashrc" ->
  // kDefaultType.
  std::string lookup(std::string_view key) const;
  size_t size() const { return by_ext_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> by_ext_;
};

// lookup() on /etc/mime.types (or the built-in table).
std::string content_type_for(std::string_view key);

}  // namespace bucketfs::mime
