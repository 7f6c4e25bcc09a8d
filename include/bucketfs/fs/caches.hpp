// caches.hpp - the attribute cache (positive and negative entries, stat_ttl),
// the directory-listing cache (dir_ttl) and the first listing pages that
// directory stats fetched (dir_ttl), keyed by mount-relative path.
//
// Entries expire by a steady clock; a TTL of 0 disables that cache. The
// Filesystem invalidates what its own changes touch (the path, its parent's
// listing, and for directories everything beneath).
// Thread-safety: one internal mutex, a leaf lock.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bucketfs/store/object_store.hpp"
#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::fs {

// What bucketfs knows of one path.
struct Attr {
  bool exists = false;
  mode_t mode = 0;  // full st_mode incl. the file type bits
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  struct timespec mtime {};
  struct timespec atime {};  // {0, 0}: not known (shown as mtime)
  struct timespec ctime {};  // {0, 0}: not known (shown as mtime)
  dev_t rdev = 0;            // character and block devices
  bool has_marker = false;   // directories: a "dir/" object exists
  bool has_meta = false;     // attributes came from a HEAD (metadata known)
  std::string etag;

  bool is_dir() const { return (mode & S_IFMT) == S_IFDIR; }
  bool is_symlink() const { return (mode & S_IFMT) == S_IFLNK; }
  bool is_regular() const { return (mode & S_IFMT) == S_IFREG; }
  // FIFO, socket, character or block device: an empty object whose type is in its metadata.
  bool is_special() const { return !is_dir() && !is_symlink() && !is_regular(); }
  // The times stat shows: atime and ctime fall back to mtime when not known.
  struct timespec shown_atime() const {
    return atime.tv_sec || atime.tv_nsec ? atime : mtime;
  }
  struct timespec shown_ctime() const {
    return ctime.tv_sec || ctime.tv_nsec ? ctime : mtime;
  }
  // The data changed now (write, truncate): mtime and ctime.
  void touch_data();
  // The attributes changed now (chmod, chown, utimens, rename): ctime.
  void touch_meta();
};

// A merged directory listing: names in byte order, each with attributes.
struct DirListing {
  std::vector<std::pair<std::string, Attr>> entries;
  // readdir_meta=auto found no metadata in its sample: the entries'
  // listing attributes answer lookups, as with readdir_meta=off.
  bool meta_skipped = false;
  const Attr* find(const std::string& name) const;
};

// Access times of the files this mount read, by the relatime rule (a read
// moves atime to now when atime is not after mtime or is a day old), kept in
// memory: stat shows them, and they reach the bucket with the file's next
// metadata change or upload, never by a read alone (no request per read).
// Bounded: past kMaxEntries the oldest records go. Thread-safe (leaf lock).
class AtimeTable {
 public:
  static constexpr size_t kMaxEntries = 100000;
  // path was read now, its attributes `current`: true if atime moved.
  bool accessed(const std::string& path, Attr* current);
  // A recorded atime newer than a's goes into a.
  void apply(const std::string& path, Attr* a) const;
  void rename(const std::string& from, const std::string& to);  // a file or a tree
  void erase(const std::string& path);
  // The relatime rule: whether a read at `now` moves atime.
  static bool due(const Attr& a, const struct timespec& now);

 private:
  mutable RankedMutex mu_{LockRank::FsLeaf};  // leaf lock
  std::map<std::string, struct timespec> times_;
};

class MetaCache {
 public:
  MetaCache(double stat_ttl, double dir_ttl);

  // true and *out when a fresh entry exists (out->exists false: negative).
  bool get_attr(const std::string& path, Attr* out) const;
  void put_attr(const std::string& path, const Attr& a);
  std::shared_ptr<const DirListing> get_dir(const std::string& path) const;
  void put_dir(const std::string& path, std::shared_ptr<const DirListing> listing);
  // The first listing page of a directory, fetched by the stat that found it
  // (ls stats a directory, then lists it): taken once by the listing, so it
  // is not requested twice. A handful are kept; changes drop them like listings.
  void put_first_page(const std::string& path, std::shared_ptr<const store::ListPage> page);
  std::shared_ptr<const store::ListPage> take_first_page(const std::string& path);

  // The path now exists with these attributes (this mount made it): its
  // attributes, and its entry in the parent's cached listing, if any.
  void note_entry(const std::string& path, const Attr& a);
  // Drops the path's attributes, its own listing and its parent's listing.
  void invalidate(const std::string& path);
  // invalidate(path) plus everything under it.
  void invalidate_tree(const std::string& path);
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  struct AttrEntry {
    Attr attr;
    Clock::time_point expires;
  };
  struct ListingEntry {
    std::shared_ptr<const DirListing> listing;
    Clock::time_point expires;
  };
  void prune_locked();

  const Clock::duration stat_ttl_;
  const Clock::duration dir_ttl_;
  mutable RankedMutex mu_{LockRank::FsLeaf};  // leaf lock
  std::map<std::string, AttrEntry> attrs_;
  std::map<std::string, ListingEntry> dirs_;
  struct PageEntry {
    std::shared_ptr<const store::ListPage> page;
    Clock::time_point expires;
  };
  std::map<std::string, PageEntry> first_pages_;
  size_t puts_since_prune_ = 0;
};

}  // namespace bucketfs::fs
