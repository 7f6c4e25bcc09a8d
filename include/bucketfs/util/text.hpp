// text.hpp - small string helpers shared by layers that write line-based
// text: the runtime mount records (cli/) and the metrics exposition (util/).
// All functions are pure and reentrant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bucketfs {

// Escapes a backslash and a newline as backslash sequences (\\ and \n;
// with quote also a double quote, as \"), so the text stays on one line.
std::string backslash_escape(std::string_view v, bool quote = false);

// The inverse of backslash_escape: "\n" is a newline, "\X" is X.
std::string backslash_unescape(std::string_view v);

// The non-empty fields of text between separators (views into text).
std::vector<std::string_view> split_fields(std::string_view text, char sep);

}  // namespace bucketfs
