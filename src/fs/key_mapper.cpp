// key_mapper.cpp - see key_mapper.hpp.
#include "bucketfs/fs/key_mapper.hpp"

#include <cerrno>

namespace bucketfs::fs {
namespace {
constexpr size_t kMaxKeyBytes = 1024;  // S3 and OSS limit
constexpr size_t kMaxNameBytes = 255;  // NAME_MAX: what the kernel and tools expect
}  // namespace

KeyMapper::KeyMapper(const std::string& prefix) {
  for (char c : prefix) {
    if (c == '/' && (prefix_.empty() || prefix_.back() == '/')) continue;
    prefix_ += c;
  }
  if (!prefix_.empty() && prefix_.back() != '/') prefix_ += '/';
}

int KeyMapper::check_key(const std::string& key) { return key.size() > kMaxKeyBytes ? ENAMETOOLONG : 0; }

int KeyMapper::check_name(const std::string& name) {
  if (name.size() > kMaxNameBytes) return ENAMETOOLONG;
  if (name.empty() || name == "." || name == "..") return EINVAL;
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos) return EINVAL;
  return 0;
}

std::string KeyMapper::parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string KeyMapper::name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool next_page(const store::ListPage& page, store::ListRequest* req) {
  if (!page.truncated) return false;
  if (!page.next_token.empty()) {
    req->continuation_token = page.next_token;
    return true;
  }
  std::string last = page.objects.empty() ? std::string() : page.objects.back().key;
  // After a common prefix, skip its keys too: no valid UTF-8 byte is 0xff.
  if (!page.common_prefixes.empty() && page.common_prefixes.back() > last)
    last = page.common_prefixes.back() + "\xff";
  if (last.empty() || last <= req->start_after) return false;  // no progress: stop rather than loop
  req->start_after = last;
  req->continuation_token.clear();
  return true;
}

bool KeyMapper::is_under(const std::string& path, const std::string& dir) {
  if (dir.empty()) return !path.empty();
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

}  // namespace bucketfs::fs
