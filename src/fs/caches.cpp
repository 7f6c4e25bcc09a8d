// caches.cpp - see caches.hpp.
#include "bucketfs/fs/caches.hpp"

#include <algorithm>

#include "bucketfs/fs/key_mapper.hpp"
#include "bucketfs/util/time.hpp"

namespace bucketfs::fs {

using timefmt::now_ts;

void Attr::touch_data() { mtime = ctime = now_ts(); }
void Attr::touch_meta() { ctime = now_ts(); }
namespace {

std::chrono::steady_clock::duration seconds(double s) {
  if (s <= 0) return std::chrono::steady_clock::duration::zero();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

// Erases key and every key under it ("a" -> "a/..."), "" meaning everything.
template <class Map>
void erase_tree(Map& m, const std::string& path) {
  if (path.empty()) {
    m.clear();
    return;
  }
  for (auto it = m.lower_bound(path); it != m.end();) {
    if (it->first.compare(0, path.size(), path) != 0) break;
    if (it->first == path || KeyMapper::is_under(it->first, path))
      it = m.erase(it);
    else
      ++it;
  }
}

constexpr size_t kPruneEvery = 4096;

}  // namespace

const Attr* DirListing::find(const std::string& name) const {
  auto it =
      std::lower_bound(entries.begin(), entries.end(), name,
                       [](const std::pair<std::string, Attr>& e, const std::string& n) { return e.first < n; });
  return it != entries.end() && it->first == name ? &it->second : nullptr;
}

MetaCache::MetaCache(double stat_ttl, double dir_ttl) : stat_ttl_(seconds(stat_ttl)), dir_ttl_(seconds(dir_ttl)) {}

bool MetaCache::get_attr(const std::string& path, Attr* out) const {
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = attrs_.find(path);
  if (it == attrs_.end() || it->second.expires <= Clock::now()) return false;
  *out = it->second.attr;
  return true;
}

void MetaCache::put_attr(const std::string& path, const Attr& a) {
  if (stat_ttl_ == Clock::duration::zero()) return;
  std::lock_guard<RankedMutex> lk(mu_);
  attrs_[path] = AttrEntry{a, Clock::now() + stat_ttl_};
  if (++puts_since_prune_ >= kPruneEvery) prune_locked();
}

std::shared_ptr<const DirListing> MetaCache::get_dir(const std::string& path) const {
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = dirs_.find(path);
  if (it == dirs_.end() || it->second.expires <= Clock::now()) return nullptr;
  return it->second.listing;
}

void MetaCache::put_dir(const std::string& path, std::shared_ptr<const DirListing> listing) {
  if (dir_ttl_ == Clock::duration::zero()) return;
  std::lock_guard<RankedMutex> lk(mu_);
  dirs_[path] = ListingEntry{std::move(listing), Clock::now() + dir_ttl_};
  if (++puts_since_prune_ >= kPruneEvery) prune_locked();
}

void MetaCache::put_first_page(const std::string& path, std::shared_ptr<const store::ListPage> page) {
  if (dir_ttl_ == Clock::duration::zero()) return;
  constexpr size_t kMaxFirstPages = 16;
  std::lock_guard<RankedMutex> lk(mu_);
  const auto now = Clock::now();
  std::erase_if(first_pages_, [&](const auto& kv) { return kv.second.expires <= now; });
  if (first_pages_.size() >= kMaxFirstPages && !first_pages_.count(path)) {
    auto oldest = std::min_element(first_pages_.begin(), first_pages_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    first_pages_.erase(oldest);
  }
  first_pages_[path] = PageEntry{std::move(page), now + dir_ttl_};
}

std::shared_ptr<const store::ListPage> MetaCache::take_first_page(const std::string& path) {
  std::lock_guard<RankedMutex> lk(mu_);
  auto it = first_pages_.find(path);
  if (it == first_pages_.end()) return nullptr;
  auto page = it->second.expires > Clock::now() ? std::move(it->second.page) : nullptr;
  first_pages_.erase(it);
  return page;
}

void MetaCache::note_entry(const std::string& path, const Attr& a) {
  put_attr(path, a);
  if (path.empty()) return;
  std::lock_guard<RankedMutex> lk(mu_);
  first_pages_.erase(KeyMapper::parent_of(path));  // a page cannot take an entry in its place
  auto it = dirs_.find(KeyMapper::parent_of(path));
  if (it == dirs_.end()) return;
  // Copy on write: handles that snapshotted the old listing keep it.
  auto copy = std::make_shared<DirListing>(*it->second.listing);
  const std::string name = KeyMapper::name_of(path);
  auto pos =
      std::lower_bound(copy->entries.begin(), copy->entries.end(), name,
                       [](const std::pair<std::string, Attr>& e, const std::string& n) { return e.first < n; });
  if (pos != copy->entries.end() && pos->first == name)
    pos->second = a;
  else
    copy->entries.insert(pos, {name, a});
  it->second.listing = std::move(copy);
}

void MetaCache::invalidate(const std::string& path) {
  std::lock_guard<RankedMutex> lk(mu_);
  attrs_.erase(path);
  dirs_.erase(path);
  first_pages_.erase(path);
  if (!path.empty()) {
    dirs_.erase(KeyMapper::parent_of(path));
    first_pages_.erase(KeyMapper::parent_of(path));
  }
}

void MetaCache::invalidate_tree(const std::string& path) {
  std::lock_guard<RankedMutex> lk(mu_);
  erase_tree(attrs_, path);
  erase_tree(dirs_, path);
  erase_tree(first_pages_, path);
  if (!path.empty()) {
    dirs_.erase(KeyMapper::parent_of(path));
    first_pages_.erase(KeyMapper::parent_of(path));
  }
}

void MetaCache::clear() {
  std::lock_guard<RankedMutex> lk(mu_);
  attrs_.clear();
  dirs_.clear();
  first_pages_.clear();
}

// Expired entries are dropped in batches so the maps stay bounded by what
// was touched within one TTL.
void MetaCache::prune_locked() {
  puts_since_prune_ = 0;
  auto now = Clock::now();
  std::erase_if(attrs_, [&](const auto& kv) { return kv.second.expires <= now; });
  std::erase_if(dirs_, [&](const auto& kv) { return kv.second.expires <= now; });
}

}  // namespace bucketfs::fs

namespace bucketfs::fs {

bool AtimeTable::due(const Attr& a, const struct timespec& now) {
  const struct timespec at = a.shown_atime();
  if (at.tv_sec < a.mtime.tv_sec || (at.tv_sec == a.mtime.tv_sec && at.tv_nsec <= a.mtime.tv_nsec)) return true;
  return now.tv_sec - at.tv_sec >= 24 * 3600;
}

bool AtimeTable::accessed(const std::string& path, Attr* current) {
  apply(path, current);
  const struct timespec now = now_ts();
  if (!due(*current, now)) return false;
  current->atime = now;
  std::lock_guard lk(mu_);
  if (times_.size() >= kMaxEntries) times_.erase(times_.begin());
  times_[path] = now;
  return true;
}

void AtimeTable::apply(const std::string& path, Attr* a) const {
  std::lock_guard lk(mu_);
  auto it = times_.find(path);
  if (it == times_.end()) return;
  const struct timespec at = a->shown_atime();
  if (it->second.tv_sec > at.tv_sec || (it->second.tv_sec == at.tv_sec && it->second.tv_nsec > at.tv_nsec))
    a->atime = it->second;
}

void AtimeTable::rename(const std::string& from, const std::string& to) {
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, struct timespec>> moved;
  for (auto it = times_.lower_bound(from); it != times_.end();) {
    if (it->first != from && it->first.compare(0, from.size() + 1, from + "/") != 0) break;
    moved.emplace_back(to + it->first.substr(from.size()), it->second);
    it = times_.erase(it);
  }
  for (auto& [p, t] : moved) times_[p] = t;
}

void AtimeTable::erase(const std::string& path) {
  std::lock_guard lk(mu_);
  times_.erase(path);
}

}  // namespace bucketfs::fs
