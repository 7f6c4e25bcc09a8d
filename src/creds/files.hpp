// files.hpp - reading the small files credentials live in (passwd files,
// profiles, token files), and trimming. Internal to src/creds/.
//
// A file is opened once (O_NONBLOCK, so that a FIFO given by mistake cannot
// hang a mount) and checked with fstat on that descriptor, so the mode a
// caller checks is that of the file read. Buffers that held the content are
// overwritten before they are freed. Messages name the file, never its content.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace bucketfs::creds::detail {

// Spaces, tabs, CR, LF, VT, FF stripped at both ends.
std::string_view trim(std::string_view s);

// Overwrites s's bytes (it held a secret).
void wipe(std::string* s);

enum class FileRead { Ok, Missing, Error };

// Reads the regular file at path (at most 1 MiB) into *out and its mode into
// *mode (may be null). Missing: it does not exist. Error: *error is
// "cannot open|read WHAT PATH: why" or "WHAT PATH is not a regular file|is
// larger than 1 MiB".
FileRead read_small_file(const std::string& path, const std::string& what, std::string* out, mode_t* mode,
                         std::string* error);

}  // namespace bucketfs::creds::detail
