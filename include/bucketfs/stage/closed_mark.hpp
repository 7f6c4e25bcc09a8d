// closed_mark.hpp - what a staging file carries once its version is closed.
//
// The closed mark is the durable truth about a closed-but-not-uploaded file:
// which object key it becomes, which write generation it is (the highest
// generation of a key wins), the size and mtime the data file had when it was
// closed (a file that no longer matches is never uploaded), and the object's
// metadata and content type. The checkpoint store only adds upload progress
// to it. Encoded with a version, a length and a CRC32C, so a damaged mark is
// recognised and never trusted.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace bucketfs::stage {

struct ClosedMark {
  static constexpr uint32_t kVersion = 1;

  std::string key;                          // full object key (prefix included)
  uint64_t generation = 0;                  // write generation; higher is newer
  uint64_t size = 0;                        // data file size at close
  int64_t mtime_ns = 0;                     // data file mtime at close (st_mtim)
  std::map<std::string, std::string> meta;  // object metadata (mode, uid, gid, mtime), unprefixed
  std::string content_type;
  bool legacy = false;  // read from a version-0 mark (key and generation only)
};

// "BFMK" | u32 version | u32 total length | key | u64 generation size mtime_ns |
// u32 meta count, name value ... | content_type | u32 CRC32C.
std::string encode_mark(const ClosedMark& m);
// False (and *why set, if given) when the bytes are not an intact mark.
bool decode_mark(const std::string& bytes, ClosedMark* out, std::string* why = nullptr);

}  // namespace bucketfs::stage
