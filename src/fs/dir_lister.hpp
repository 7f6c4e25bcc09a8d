// dir_lister.hpp - (internal to src/fs) directory listings: every page of a
// ListObjects with delimiter "/", merged into one DirListing (markers, common
// prefixes and files; a name that is both file and prefix is the directory),
// the metadata HEADs readdir_meta asks for, and the streams that hand a
// listing to readdir while its later pages are still being fetched.
//
// Invariants: a listing is cached (MetaCache) only when complete; a stream's
// entries are only ever appended, each name once, so readdir offsets stay
// valid; a file is published only once no later page can bring a prefix of
// the same name (the directory wins).
// Locks: the stream's mutex (a leaf) guards its entries; the lister itself
// holds only its collision-log lock (a leaf), never across a store call.
// Thread-safety: every method may be called from many threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bucketfs/fs/caches.hpp"
#include "bucketfs/fs/key_mapper.hpp"
#include "bucketfs/fs/options.hpp"
#include "bucketfs/store/object_store.hpp"

namespace bucketfs::fs {

// HEAD of key: *found false (and 0) when there is no such object; else the
// store's errno.
int head_object(store::ObjectStore& store, const std::string& key, store::ObjectInfo* out, bool* found);

class DirLister {
 public:
  // A listing handed to readdir while it is fetched: a thread lists the
  // directory and publishes entries page by page (once readdir_meta will not
  // change their attributes), so the kernel takes in one page while the next
  // is on its way.
  struct Stream {
    std::mutex mu;  // leaf
    std::condition_variable cv;
    std::vector<std::pair<std::string, Attr>> entries;  // in the order handed out
    std::set<std::string> names;                        // of entries: each name once
    bool done = false;
    int error = 0;
    std::atomic<bool> cancelled{false};  // the handle is gone: stop listing
    std::thread worker;

    void publish(std::vector<std::pair<std::string, Attr>>&& batch);
    // The listing is complete (what was not published yet follows), or failed.
    void finish(int err, const DirListing* all);
    ~Stream();
  };

  DirLister(store::ObjectStore& store, const Options& opts, const KeyMapper& keys, MetaCache& cache,
            std::time_t mount_time);

  // The full listing of the directory at path (from the cache when fresh),
  // merged and cached; with a stream, entries are also published to it as
  // pages arrive. 0, ECANCELED (the stream was cancelled), or the store's errno.
  int list(const std::string& path, std::shared_ptr<const DirListing>* out, Stream* stream = nullptr);
  // Logs once per key that an object is hidden by a prefix of the same name.
  void note_collision(const std::string& key);

 private:
  struct HeadTally {
    size_t with_meta = 0;  // entries found carrying POSIX metadata
    size_t failed = 0;     // HEADs that got no answer (the listing's attributes stand)
  };
  struct Merge;    // one listing in progress (dir_lister.cpp)
  struct Sampler;  // readdir_meta=auto's sample, HEADed while later pages come

  void merge_page(const store::ListPage& page, Merge* m);
  void publish_ready(Merge* m, Stream* stream, const std::string& last_key);
  void fill_missing_metadata(const std::string& dir, DirListing* listing, const std::optional<HeadTally>& sampled);
  std::vector<std::pair<std::string, Attr>> pick_sample(const std::string& dir,
                                                        const std::map<std::string, Attr>& entries);
  // HEADs listing->entries[i] for each i in todo; returns how many carry metadata.
  HeadTally head_entries(const std::string& dir, DirListing* listing, const std::vector<size_t>& todo);

  store::ObjectStore& store_;
  const Options& opts_;
  const KeyMapper& keys_;
  MetaCache& cache_;
  const std::time_t mount_time_;
  std::mutex log_mu_;                        // leaf: guards collisions_logged_
  std::set<std::string> collisions_logged_;  // keys both a file and a prefix, logged once
};

}  // namespace bucketfs::fs
