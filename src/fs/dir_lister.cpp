// dir_lister.cpp - see dir_lister.hpp.
#include "dir_lister.hpp"

#include <algorithm>
#include <system_error>

#include "bucketfs/fs/metadata.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::fs {

int head_object(store::ObjectStore& store, const std::string& key, store::ObjectInfo* out, bool* found) {
  auto h = store.head(key);
  if (h) {
    *out = std::move(h.value());
    *found = true;
    return 0;
  }
  *found = false;
  if (h.error().code == store::ErrorCode::NoSuchKey) return 0;
  return store::to_errno(h.error());
}

// --- streams ---------------------------------------------------------------

void DirLister::Stream::publish(std::vector<std::pair<std::string, Attr>>&& batch) {
  {
    std::lock_guard l(mu);
    for (auto& e : batch)
      if (names.insert(e.first).second) entries.push_back(std::move(e));
  }
  cv.notify_all();
}

void DirLister::Stream::finish(int err, const DirListing* all) {
  {
    std::lock_guard l(mu);
    if (all)
      for (const auto& e : all->entries)
        if (names.insert(e.first).second) entries.push_back(e);
    error = err;
    done = true;
    names.clear();  // nothing more to tell apart; a huge directory's names go
  }
  cv.notify_all();
}

DirLister::Stream::~Stream() {
  cancelled = true;
  if (worker.joinable()) worker.join();
}

// --- one listing -----------------------------------------------------------

// The names merged so far and, with a stream, those not published yet: they
// wait until readdir_meta cannot change them, and a file until no later page
// can bring a prefix of its name.
struct DirLister::Merge {
  std::string dkey;
  std::map<std::string, Attr> merged;
  std::vector<std::string> unpublished;
  bool track = false;  // a stream takes the entries as they come
  bool may_publish = false;
};

// readdir_meta=auto on a listing of several pages: the sample is HEADed from
// the first page while the others are fetched.
struct DirLister::Sampler {
  DirListing sample;
  std::optional<HeadTally> tally;
  std::atomic<bool> done{false};
  std::thread thread;

  void start(DirLister& lister, const std::string& path, const std::map<std::string, Attr>& merged) {
    sample.entries = lister.pick_sample(path, merged);
    if (sample.entries.empty()) return;
    try {
      thread = std::thread([this, &lister, &path] {
        std::vector<size_t> all(sample.entries.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = i;
        tally = lister.head_entries(path, &sample, all);
        done = true;
      });
    } catch (const std::system_error&) {
      sample.entries.clear();  // no thread: sampled after the listing, as for one page
    }
  }
  // joinable() first: `tally` is the running sampler's until it is joined.
  bool started() const { return thread.joinable() || tally.has_value(); }
  void join() {
    if (thread.joinable()) thread.join();
  }
  ~Sampler() { join(); }
};

DirLister::DirLister(store::ObjectStore& store, const Options& opts, const KeyMapper& keys, MetaCache& cache,
                     std::time_t mount_time)
    : store_(store), opts_(opts), keys_(keys), cache_(cache), mount_time_(mount_time) {}

void DirLister::note_collision(const std::string& key) {
  {
    std::lock_guard<std::mutex> lk(log_mu_);
    if (!collisions_logged_.insert(key).second) return;
  }
  LOG_WARN("key '" << key << "' is both an object and a prefix; showing the directory, the object is hidden");
}

void DirLister::merge_page(const store::ListPage& page, Merge* m) {
  for (const auto& obj : page.objects) {
    std::string name = obj.key.substr(m->dkey.size());
    if (name.empty()) continue;  // the directory's own marker
    if (KeyMapper::check_name(name) != 0) continue;
    auto [it, inserted] = m->merged.emplace(name, file_attr_from_listing(obj, opts_));
    if (!inserted) note_collision(obj.key);  // the prefix came first: keep the directory
    if (inserted && m->track) m->unpublished.push_back(name);
  }
  for (const auto& cp : page.common_prefixes) {
    if (cp.size() <= m->dkey.size() + 1) continue;  // "dir//": an empty name cannot be shown
    std::string name = cp.substr(m->dkey.size(), cp.size() - m->dkey.size() - 1);
    if (KeyMapper::check_name(name) != 0) continue;
    Attr d = dir_attr(nullptr, opts_, mount_time_);
    d.has_meta = false;  // the marker (if any) has not been read
    auto [it, inserted] = m->merged.emplace(name, d);
    if (!inserted) {
      note_collision(m->dkey + name);
      it->second = d;
    }
    if (inserted && m->track) m->unpublished.push_back(name);
  }
}

// Publishes what may be shown now: keys come in order, so a prefix "name/" of
// a file would have come by now unless it is past last_key.
void DirLister::publish_ready(Merge* m, Stream* stream, const std::string& last_key) {
  std::vector<std::pair<std::string, Attr>> batch;
  std::vector<std::string> later;
  for (auto& name : m->unpublished) {
    const auto& entry = *m->merged.find(name);
    if (!entry.second.is_dir() && m->dkey + name + "/" > last_key)
      later.push_back(std::move(name));
    else
      batch.emplace_back(entry);
  }
  stream->publish(std::move(batch));
  m->unpublished = std::move(later);
}

int DirLister::list(const std::string& path, std::shared_ptr<const DirListing>* out, Stream* stream) {
  if (auto cached = cache_.get_dir(path)) {
    *out = std::move(cached);
    return 0;
  }
  Merge m;
  m.dkey = keys_.dir_key(path);
  m.track = stream != nullptr;
  m.may_publish = opts_.readdir_meta == Options::ReaddirMeta::Off;
  store::ListRequest req;
  req.prefix = m.dkey;
  req.delimiter = "/";
  req.max_keys = opts_.list_page_size;
  Sampler sampler;
  auto first = cache_.take_first_page(path);  // from the stat that found the directory
  for (;;) {
    store::StoreResult<store::ListPage> page =
        first ? store::StoreResult<store::ListPage>(*first) : store_.list(req);
    first.reset();
    if (!page) return store::to_errno(page.error());
    merge_page(*page, &m);
    std::string last_key = page->objects.empty() ? "" : page->objects.back().key;
    if (!page->common_prefixes.empty()) last_key = std::max(last_key, page->common_prefixes.back());
    if (!next_page(*page, &req)) break;
    if (stream) {
      if (stream->cancelled) return ECANCELED;
      if (sampler.thread.joinable() && sampler.done) {
        sampler.join();
        // No metadata in the sample: the listing's attributes are final.
        m.may_publish = sampler.tally && sampler.tally->with_meta == 0;
      }
      if (m.may_publish) publish_ready(&m, stream, last_key);
    }
    if (opts_.readdir_meta == Options::ReaddirMeta::Auto && !sampler.started())
      sampler.start(*this, path, m.merged);
  }
  sampler.join();
  for (auto& [name, attr] : sampler.sample.entries) {
    // What the HEADs found (unless a later page made the name a directory).
    auto it = m.merged.find(name);
    if (it != m.merged.end() && it->second.is_dir() == attr.is_dir()) it->second = attr;
  }
  auto listing = std::make_shared<DirListing>();
  listing->entries.reserve(m.merged.size());
  for (auto& kv : m.merged) listing->entries.emplace_back(kv.first, std::move(kv.second));
  if (opts_.readdir_meta != Options::ReaddirMeta::Off) fill_missing_metadata(path, listing.get(), sampler.tally);
  cache_.put_dir(path, listing);
  *out = std::move(listing);
  return 0;
}

// --- metadata of listed entries -------------------------------------------------

namespace {
// Whether the j-th of n candidates is in an evenly spread sample of k: every
// (n / k)-th one (all of them when n <= k).
bool in_sample(size_t j, size_t n, size_t k) { return n <= k || j * k / n != (j + 1) * k / n; }
}  // namespace

// Up to readdir_head_parallel entries spread evenly over `entries` whose
// attributes are not cached.
std::vector<std::pair<std::string, Attr>> DirLister::pick_sample(const std::string& dir,
                                                                 const std::map<std::string, Attr>& entries) {
  std::vector<const std::pair<const std::string, Attr>*> todo;
  for (const auto& e : entries) {
    Attr cached;
    if (!cache_.get_attr(KeyMapper::join(dir, e.first), &cached)) todo.push_back(&e);
  }
  const size_t parallel = static_cast<size_t>(std::max(opts_.readdir_head_parallel, 1));
  std::vector<std::pair<std::string, Attr>> out;
  for (size_t j = 0; j < todo.size() && out.size() < parallel; ++j)
    if (in_sample(j, todo.size(), parallel)) out.emplace_back(todo[j]->first, todo[j]->second);
  return out;
}

// HEADs, a bounded number at a time, the entries whose metadata is not in the
// attribute cache, so a listing shows the modes and mtimes s3fs stored. With
// readdir_meta=auto a sample spread over the listing (or, for a listing of
// several pages, over its first page: `sampled`) goes first, and the rest only
// if the sample found metadata.
void DirLister::fill_missing_metadata(const std::string& dir, DirListing* listing,
                                      const std::optional<HeadTally>& sampled) {
  std::vector<size_t> todo;
  for (size_t i = 0; i < listing->entries.size(); ++i) {
    auto& [name, attr] = listing->entries[i];
    Attr cached;
    std::string path = KeyMapper::join(dir, name);
    if (cache_.get_attr(path, &cached) && cached.exists && cached.is_dir() == attr.is_dir())
      attr = cached;
    else
      todo.push_back(i);
  }
  size_t parallel = static_cast<size_t>(std::max(opts_.readdir_head_parallel, 1));
  if (opts_.readdir_meta == Options::ReaddirMeta::Auto && (sampled || todo.size() > parallel)) {
    HeadTally t;
    std::vector<size_t> rest;
    if (sampled) {
      t = *sampled;
      rest = std::move(todo);
    } else {
      std::vector<size_t> sample;
      for (size_t j = 0; j < todo.size(); ++j) {
        // The whole listing, not its first names.
        if (in_sample(j, todo.size(), parallel) && sample.size() < parallel)
          sample.push_back(todo[j]);
        else
          rest.push_back(todo[j]);
      }
      t = head_entries(dir, listing, sample);
    }
    if (t.with_meta == 0) {
      // No metadata in the sample. If some HEADs failed it cannot tell: the
      // rest waits, and lookups of the entries ask the server themselves.
      if (t.failed == 0) listing->meta_skipped = true;
      return;
    }
    todo = std::move(rest);
  }
  head_entries(dir, listing, todo);
}

DirLister::HeadTally DirLister::head_entries(const std::string& dir, DirListing* listing,
                                             const std::vector<size_t>& todo) {
  if (todo.empty()) return {};
  std::atomic<size_t> next{0}, with_meta{0}, failed{0};
  auto worker = [&]() {
    for (size_t j = next++; j < todo.size(); j = next++) {
      auto& [name, attr] = listing->entries[todo[j]];
      std::string path = KeyMapper::join(dir, name);
      try {
        store::ObjectInfo info;
        bool found = false;
        std::string key = attr.is_dir() ? keys_.dir_key(path) : keys_.file_key(path);
        if (head_object(store_, key, &info, &found) != 0) {
          ++failed;
          continue;  // keep the listing's attributes
        }
        if (found && carries_posix_metadata(info)) ++with_meta;
        if (attr.is_dir()) {
          attr = dir_attr(found ? &info : nullptr, opts_, mount_time_);
        } else if (found) {
          attr = file_attr_from_head(info, opts_);
        } else {
          continue;  // deleted since the listing; a lookup will tell
        }
        cache_.put_attr(path, attr);
      } catch (...) {
        // Out of memory in a helper thread: the listing's attributes stand.
      }
    }
  };
  size_t n = std::min<size_t>(std::max(opts_.readdir_head_parallel, 1), todo.size());
  std::vector<std::thread> threads;
  try {
    for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  } catch (const std::system_error&) {
    // No more threads (a process or memory limit): fewer HEADs at a time.
  }
  worker();
  for (auto& t : threads) t.join();
  return {with_meta.load(), failed.load()};
}

}  // namespace bucketfs::fs
