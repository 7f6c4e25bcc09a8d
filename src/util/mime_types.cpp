// mime_types.cpp - see mime_types.hpp.
#include "bucketfs/util/mime_types.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace bucketfs::mime {
namespace {

// Enough for the files people put in buckets when no /etc/mime.types exists
// (minimal containers); the system table is the authority when present.
constexpr std::pair<const char*, const char*> kBuiltin[] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"txt", "text/plain"},
    {"csv", "text/csv"},
    {"md", "text/markdown"},
    {"xml", "application/xml"},
    {"json", "application/json"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tgz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"bz2", "application/x-bzip2"},
    {"xz", "application/x-xz"},
    {"zst", "application/zstd"},
    {"7z", "application/x-7z-compressed"},
    {"wasm", "application/wasm"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"png", "image/png"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"svg", "image/svg+xml"},
    {"ico", "image/vnd.microsoft.icon"},
    {"avif", "image/avif"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"flac", "audio/flac"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

MimeTypes MimeTypes::builtin() {
  MimeTypes m;
  for (const auto& [ext, type] : kBuiltin) m.by_ext_.emplace(ext, type);
  return m;
}

MimeTypes MimeTypes::parse(std::string_view text) {
  MimeTypes m;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string type, ext;
    if (!(words >> type) || type.find('/') == std::string::npos) continue;
    while (words >> ext) m.by_ext_.emplace(lower(ext), type);  // emplace keeps the first
  }
  return m;
}

MimeTypes MimeTypes::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) return builtin();
  std::stringstream buf;
  buf << f.rdbuf();
  MimeTypes m = parse(buf.str());
  return m.size() > 0 ? m : builtin();
}

std::string MimeTypes::lookup(std::string_view key) const {
  std::string_view name = key;
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return kDefaultType;
  auto it = by_ext_.find(lower(name.substr(dot + 1)));
  return it == by_ext_.end() ? kDefaultType : it->second;
}

std::string content_type_for(std::string_view key) {
  static const MimeTypes table = MimeTypes::load("/etc/mime.types");
  return table.lookup(key);
}

}  // namespace bucketfs::mime
