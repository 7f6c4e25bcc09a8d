// filesystem.cpp - lookups, attributes, listings and reads (the namespace
// changes are in namespace_ops.cpp).
//
// Invariants: the caches and the inode table are leaf locks, never held
// across a store call; a directory listing is merged once (markers, common
// prefixes, files; a name that is both file and prefix is the directory) and
// then shared read-only by every handle that snapshots it.
#include "bucketfs/fs/filesystem.hpp"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <set>
#include <system_error>
#include <thread>

#include "bucketfs/fs/metadata.hpp"
#include "bucketfs/util/log.hpp"
#include "pending.hpp"

namespace bucketfs::fs {

constexpr const char* kDirContentType = "application/x-directory";

// A listing handed to readdir while it is fetched: a thread lists the
// directory and publishes entries page by page (once readdir_meta will not
// change their attributes), so the kernel takes in one page while the next is
// on its way. Entries are only appended: readdir offsets stay valid.
struct Filesystem::DirStream {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, Attr>> entries;  // in the order handed out
  std::set<std::string> names;                        // of entries: each name once
  bool done = false;
  int error = 0;
  std::atomic<bool> cancelled{false};  // the handle is gone: stop listing
  std::thread worker;

  void publish(std::vector<std::pair<std::string, Attr>>&& batch) {
    {
      std::lock_guard l(mu);
      for (auto& e : batch)
        if (names.insert(e.first).second) entries.push_back(std::move(e));
    }
    cv.notify_all();
  }
  // The listing is complete (what was not published yet follows), or failed.
  void finish(int err, const DirListing* all) {
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
  ~DirStream() {
    cancelled = true;
    if (worker.joinable()) worker.join();
  }
};

struct Filesystem::DirHandle {
  Ino ino = 0;
  std::string path;
  std::shared_ptr<const DirListing> listing;  // complete, or
  std::shared_ptr<DirStream> stream;          // still arriving
};

Filesystem::Filesystem(store::ObjectStore& store, Options opts, WritePath write)
    : store_(store),
      opts_(std::move(opts)),
      keys_(opts_.prefix),
      cache_(opts_.stat_ttl, opts_.dir_ttl),
      budget_(opts_.prefetch_memory_budget),
      mount_time_(std::time(nullptr)),
      write_() {
  // Generations order the versions of a key across mounts too (a leftover
  // staging file of an older one is recognised as superseded): start from the clock.
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  next_generation_ = static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
  if (write.uploader) attach_write_path(write);
}

void Filesystem::attach_write_path(WritePath write) {
  std::lock_guard lk(pending_mu_);
  write_ = write;
  if (!write_.uploader) return;
  // Uploads resumed from the checkpoint store are pending files like any other.
  for (const auto& f : write_.uploader->pending()) {
    if (f.key.compare(0, keys_.prefix().size(), keys_.prefix()) != 0) continue;
    auto p = std::make_shared<Pending>();
    p->fd = ::open(f.staging_path.c_str(), O_RDWR | O_CLOEXEC);
    if (p->fd < 0) continue;  // the uploader reports it
    store::ObjectInfo info;
    info.key = f.key;
    info.size = f.size;
    info.meta = f.meta;
    info.last_modified = mount_time_;
    p->attr = file_attr_from_head(info, opts_);
    p->path = path_of_key(f.key);
    p->staging_path = f.staging_path;
    p->generation = f.generation;
    p->submitted = true;
    next_generation_ = std::max(next_generation_, f.generation + 1);
    pending_[p->path] = std::move(p);
  }
  write_.uploader->set_done_handler([this](const upload::UploadOutcome& o) { on_upload_done(o); });
}

Filesystem::~Filesystem() {
  // Directory handles first: their listing threads use the members.
  std::map<uint64_t, std::shared_ptr<DirHandle>> dirs;
  {
    std::lock_guard lk(handles_mu_);
    dirs.swap(dirs_);
  }
}

int Filesystem::path_of(Ino ino, std::string* path) const { return table_.path_of(ino, path) ? 0 : ENOENT; }

int Filesystem::child_path(Ino parent, const std::string& name, std::string* path) const {
  if (int rc = KeyMapper::check_name(name)) return rc;
  std::string dir;
  if (int rc = path_of(parent, &dir)) return rc;
  *path = KeyMapper::join(dir, name);
  // A directory's key is the longest form of a path's key.
  return KeyMapper::check_key(keys_.dir_key(*path));
}

struct stat Filesystem::to_stat(Ino ino, const Attr& a) const {
  struct stat st {};
  st.st_ino = ino;
  st.st_mode = a.mode;
  st.st_nlink = a.is_dir() ? 2 : 1;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_mtim = a.mtime;
  st.st_ctim = a.mtime;
  st.st_atim = a.mtime;
  return st;
}

void Filesystem::note_collision(const std::string& key) {
  {
    std::lock_guard<std::mutex> lk(log_mu_);
    if (!collisions_logged_.insert(key).second) return;
  }
  LOG_WARN("key '" << key << "' is both an object and a prefix; showing the directory, the object is hidden");
}

int Filesystem::head_meta(const std::string& key, store::ObjectInfo* out, bool* found) {
  auto h = store_.head(key);
  if (h) {
    *out = std::move(h.value());
    *found = true;
    return 0;
  }
  *found = false;
  if (h.error().code == store::ErrorCode::NoSuchKey) return 0;
  return store::to_errno(h.error());
}

int Filesystem::stat_path_uncached(const std::string& path, Attr* out) {
  const std::string dkey = keys_.dir_key(path);
  const std::string fkey = keys_.file_key(path);
  if (int rc = KeyMapper::check_key(dkey)) return rc;

  // Directory first: a marker or anything under "path/" makes it one, even if
  // "path" is also an object.
  // A whole page, not one key: it costs about the same, and when the
  // directory is listed next (ls stats it first) the listing starts from it.
  store::ListRequest req;
  req.prefix = dkey;
  req.delimiter = "/";
  req.max_keys = opts_.list_page_size;
  auto page = store_.list(req);
  if (!page) return store::to_errno(page.error());
  bool is_dir = !page->objects.empty() || !page->common_prefixes.empty();
  if (is_dir) {
    store::ObjectInfo marker;
    bool has_marker = false;
    const bool marker_listed = !page->objects.empty() && page->objects.front().key == dkey;
    cache_.put_first_page(path, std::make_shared<const store::ListPage>(std::move(*page)));
    if (marker_listed) {
      if (int rc = head_meta(dkey, &marker, &has_marker)) return rc;
    }
    *out = dir_attr(has_marker ? &marker : nullptr, opts_, mount_time_);
    return 0;
  }
  store::ObjectInfo info;
  bool found = false;
  if (int rc = head_meta(fkey, &info, &found)) return rc;
  if (!found) {
    *out = Attr{};
    return 0;
  }
  if (info.content_type == kDirContentType && info.size == 0) {
    // An s3fs-style directory object without the trailing '/' (old clients).
    *out = dir_attr(&info, opts_, mount_time_);
    out->has_marker = false;
    return 0;
  }
  *out = file_attr_from_head(info, opts_);
  return 0;
}

int Filesystem::stat_path(const std::string& path, Attr* out) {
  if (path.empty()) {
    *out = dir_attr(nullptr, opts_, mount_time_);
    return 0;
  }
  {
    // A staged file is newer than anything in the bucket; a directory that
    // holds one exists even before its first upload lands.
    std::lock_guard lk(pending_mu_);
    auto it = pending_.lower_bound(path);
    if (it != pending_.end() && it->first == path) {
      *out = it->second->attr;
      return 0;
    }
    it = pending_.lower_bound(path + "/");
    if (it != pending_.end() && KeyMapper::is_under(it->first, path)) {
      if (!cache_.get_attr(path, out) || !out->exists || !out->is_dir())
        *out = dir_attr(nullptr, opts_, mount_time_);
      return 0;
    }
  }
  if (cache_.get_attr(path, out)) return out->exists ? 0 : ENOENT;
  // A fresh listing of the parent answers without a request, when it carries
  // full attributes (or the mount is configured not to fetch them).
  if (auto listing = cache_.get_dir(KeyMapper::parent_of(path))) {
    const Attr* a = listing->find(KeyMapper::name_of(path));
    if (!a) return ENOENT;
    if (a->has_meta || listing->meta_skipped || opts_.readdir_meta == Options::ReaddirMeta::Off) {
      *out = *a;
      return 0;
    }
  }
  if (int rc = stat_path_uncached(path, out)) return rc;
  cache_.put_attr(path, *out);
  return out->exists ? 0 : ENOENT;
}

int Filesystem::fill_entry(const std::string& path, const Attr& a, Entry* out) {
  out->ino = table_.ref(path, a.mode & S_IFMT, 1);
  out->attr = to_stat(out->ino, a);
  out->attr_timeout = opts_.stat_ttl;
  out->entry_timeout = opts_.stat_ttl;
  return 0;
}

int Filesystem::lookup(Ino parent, const std::string& name, Entry* out) {
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  return fill_entry(path, a, out);
}

void Filesystem::forget(Ino ino, uint64_t nlookup) { table_.forget(ino, nlookup); }

int Filesystem::getattr(Ino ino, struct stat* out, double* attr_timeout) {
  std::string path;
  if (int rc = path_of(ino, &path)) return rc;
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  *out = to_stat(ino, a);
  *attr_timeout = opts_.stat_ttl;
  return 0;
}

int Filesystem::statfs(Ino, struct statvfs* out) {
  // A bucket has no capacity; report a large, constant one (as s3fs does) so
  // tools that check free space before writing proceed.
  *out = {};
  out->f_bsize = 4096;
  out->f_frsize = 4096;
  out->f_blocks = 1ull << 36;  // 256 TiB
  out->f_bfree = out->f_blocks;
  out->f_bavail = out->f_blocks;
  out->f_files = 1ull << 32;
  out->f_ffree = out->f_files;
  out->f_favail = out->f_files;
  out->f_namemax = 255;
  return 0;
}

// --- directories -------------------------------------------------------------

int Filesystem::list_dir(const std::string& path, std::shared_ptr<const DirListing>* out, DirStream* stream) {
  if (auto cached = cache_.get_dir(path)) {
    *out = std::move(cached);
    return 0;
  }
  const std::string dkey = keys_.dir_key(path);
  std::map<std::string, Attr> merged;
  store::ListRequest req;
  req.prefix = dkey;
  req.delimiter = "/";
  req.max_keys = opts_.list_page_size;
  // readdir_meta=auto on a listing of several pages: the sample is HEADed
  // from the first page while the others are fetched.
  DirListing sample;
  std::optional<HeadTally> sampled;
  std::atomic<bool> sample_done{false};
  std::thread sampler;
  // With a stream: names wait here until readdir_meta cannot change them,
  // and a file until no later page can bring a prefix of its name.
  std::vector<std::string> unpublished;
  bool may_publish = opts_.readdir_meta == Options::ReaddirMeta::Off;
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{sampler};
  auto first = cache_.take_first_page(path);  // from the stat that found the directory
  for (;;) {
    store::StoreResult<store::ListPage> page =
        first ? store::StoreResult<store::ListPage>(*first) : store_.list(req);
    first.reset();
    if (!page) return store::to_errno(page.error());
    for (const auto& obj : page->objects) {
      std::string name = obj.key.substr(dkey.size());
      if (name.empty()) continue;  // the directory's own marker
      if (KeyMapper::check_name(name) != 0) continue;
      auto [it, inserted] = merged.emplace(name, file_attr_from_listing(obj, opts_));
      if (!inserted) note_collision(obj.key);  // the prefix came first: keep the directory
      if (inserted && stream) unpublished.push_back(name);
    }
    for (const auto& cp : page->common_prefixes) {
      if (cp.size() <= dkey.size() + 1) continue;  // "dir//": an empty name cannot be shown
      std::string name = cp.substr(dkey.size(), cp.size() - dkey.size() - 1);
      if (KeyMapper::check_name(name) != 0) continue;
      Attr d = dir_attr(nullptr, opts_, mount_time_);
      d.has_meta = false;  // the marker (if any) has not been read
      auto [it, inserted] = merged.emplace(name, d);
      if (!inserted) {
        note_collision(dkey + name);
        it->second = d;
      }
      if (inserted && stream) unpublished.push_back(name);
    }
    // Keys come in order: a prefix "name/" of a file on this page would have
    // come by now if it is not past the page's last key.
    std::string last_key = page->objects.empty() ? "" : page->objects.back().key;
    if (!page->common_prefixes.empty()) last_key = std::max(last_key, page->common_prefixes.back());
    if (!next_page(*page, &req)) break;
    if (stream) {
      if (stream->cancelled) return ECANCELED;
      if (sampler.joinable() && sample_done) {
        sampler.join();
        // No metadata in the sample: the listing's attributes are final.
        may_publish = sampled && sampled->with_meta == 0;
      }
      if (may_publish) {
        std::vector<std::pair<std::string, Attr>> batch;
        std::vector<std::string> later;
        for (auto& name : unpublished) {
          const auto& entry = *merged.find(name);
          if (!entry.second.is_dir() && dkey + name + "/" > last_key)
            later.push_back(std::move(name));
          else
            batch.emplace_back(entry);
        }
        stream->publish(std::move(batch));
        unpublished = std::move(later);
      }
    }
    // joinable() first: `sampled` is the running sampler's until it is joined.
    if (opts_.readdir_meta == Options::ReaddirMeta::Auto && !sampler.joinable() && !sampled) {
      sample.entries = pick_sample(path, merged);
      try {
        if (!sample.entries.empty())
          sampler = std::thread([this, &path, &sample, &sampled, &sample_done] {
            std::vector<size_t> all(sample.entries.size());
            for (size_t i = 0; i < all.size(); ++i) all[i] = i;
            sampled = head_entries(path, &sample, all);
            sample_done = true;
          });
      } catch (const std::system_error&) {
        sample.entries.clear();  // no thread: sampled after the listing, as for one page
      }
    }
  }
  if (sampler.joinable()) sampler.join();
  for (auto& [name, attr] : sample.entries) {
    // What the HEADs found (unless a later page made the name a directory).
    auto it = merged.find(name);
    if (it != merged.end() && it->second.is_dir() == attr.is_dir()) it->second = attr;
  }
  auto listing = std::make_shared<DirListing>();
  listing->entries.reserve(merged.size());
  for (auto& kv : merged) listing->entries.emplace_back(kv.first, std::move(kv.second));
  if (opts_.readdir_meta != Options::ReaddirMeta::Off) fill_missing_metadata(path, listing.get(), sampled);
  cache_.put_dir(path, listing);
  *out = std::move(listing);
  return 0;
}

namespace {
// Whether the j-th of n candidates is in an evenly spread sample of k: every
// (n / k)-th one (all of them when n <= k).
bool in_sample(size_t j, size_t n, size_t k) { return n <= k || j * k / n != (j + 1) * k / n; }
}  // namespace

// Up to readdir_head_parallel entries spread evenly over `entries` whose
// attributes are not cached.
std::vector<std::pair<std::string, Attr>> Filesystem::pick_sample(const std::string& dir,
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
void Filesystem::fill_missing_metadata(const std::string& dir, DirListing* listing,
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

Filesystem::HeadTally Filesystem::head_entries(const std::string& dir, DirListing* listing,
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
        if (head_meta(key, &info, &found) != 0) {
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

int Filesystem::opendir(Ino ino, uint64_t* fh) {
  std::string path;
  if (int rc = path_of(ino, &path)) return rc;
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  if (!a.is_dir()) return ENOTDIR;
  auto h = std::make_shared<DirHandle>();
  h->ino = ino;
  h->path = path;
  // A listing to fetch is streamed, unless every entry must be HEADed first.
  if (!cache_.get_dir(path) && opts_.readdir_meta != Options::ReaddirMeta::On) {
    auto stream = std::make_shared<DirStream>();
    // Files being written here come first, as they are; the listing's entry
    // of the same name is older.
    std::shared_ptr<const DirListing> staged = std::make_shared<DirListing>();
    add_pending_entries(path, &staged);
    stream->publish(std::vector<std::pair<std::string, Attr>>(staged->entries));
    try {
      stream->worker = std::thread([this, path, s = stream.get()] {
        std::shared_ptr<const DirListing> listing;
        int rc;
        try {
          rc = list_dir(path, &listing, s);
        } catch (...) {
          rc = EIO;  // out of memory: the readdir fails, the mount goes on
        }
        s->finish(rc, rc == 0 ? listing.get() : nullptr);
      });
      h->stream = std::move(stream);
    } catch (const std::system_error&) {
      // No thread: list here, as for a listing that is not streamed.
    }
  }
  if (!h->stream) {
    if (int rc = list_dir(path, &h->listing)) return rc;
    add_pending_entries(path, &h->listing);
  }
  std::lock_guard<std::mutex> lk(handles_mu_);
  *fh = next_fh_++;
  dirs_[*fh] = std::move(h);
  return 0;
}

int Filesystem::readdir(uint64_t fh, uint64_t offset, bool plus, const DirSink& sink) {
  std::shared_ptr<DirHandle> h;
  {
    std::lock_guard<std::mutex> lk(handles_mu_);
    auto it = dirs_.find(fh);
    if (it == dirs_.end()) return EBADF;
    h = it->second;
  }
  const double ttl = opts_.stat_ttl;
  // Offsets: 0 ".", 1 "..", 2 + i the listing's entry i.
  for (uint64_t off = offset; off < 2; ++off) {
    DirEntry e;
    e.name = off == 0 ? "." : "..";
    Ino ino = off == 0 ? h->ino : table_.find(KeyMapper::parent_of(h->path));
    e.attr = to_stat(ino ? ino : kRootIno, dir_attr(nullptr, opts_, mount_time_));
    e.next_offset = off + 1;
    // The kernel takes no lookup reference for dot entries, even with plus.
    if (!sink(e, 0, 0)) return 0;
  }
  // Hands entry i to the sink; false when the reply is full.
  auto emit = [&](uint64_t i, const std::string& name, const Attr& attr) {
    std::string path = KeyMapper::join(h->path, name);
    DirEntry e;
    e.name = name;
    e.next_offset = i + 3;
    Ino ino;
    if (plus) {
      ino = table_.ref(path, attr.mode & S_IFMT, 1);
    } else {
      ino = table_.find(path);
      if (!ino) ino = 0xffffffff;  // FUSE_UNKNOWN_INO: the kernel looks it up when needed
    }
    e.attr = to_stat(ino, attr);
    if (sink(e, ttl, ttl)) return true;
    if (plus) table_.forget(ino, 1);
    return false;
  };
  uint64_t i = offset < 2 ? 0 : offset - 2;
  if (!h->stream) {
    const auto& entries = h->listing->entries;
    for (; i < entries.size(); ++i)
      if (!emit(i, entries[i].first, entries[i].second)) return 0;
    return 0;
  }
  DirStream& s = *h->stream;
  for (bool handed = false;; ++i) {
    std::pair<std::string, Attr> e;
    {
      std::unique_lock l(s.mu);
      // Wait only while nothing is handed out: the kernel takes in what has
      // arrived and asks again.
      if (!handed) s.cv.wait(l, [&] { return i < s.entries.size() || s.done; });
      if (i >= s.entries.size()) return handed ? 0 : s.error;
      e = s.entries[i];
    }
    handed = true;
    if (!emit(i, e.first, e.second)) return 0;
  }
}

int Filesystem::releasedir(uint64_t fh) {
  std::shared_ptr<DirHandle> h;
  {
    std::lock_guard<std::mutex> lk(handles_mu_);
    auto it = dirs_.find(fh);
    if (it == dirs_.end()) return EBADF;
    h = std::move(it->second);
    dirs_.erase(it);
  }
  return 0;  // a listing still arriving stops here, outside the lock
}

// --- open files --------------------------------------------------------------

int Filesystem::open(Ino ino, int flags, uint64_t* fh) {
  std::string path;
  if (int rc = path_of(ino, &path)) return rc;
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  if (a.is_dir()) return EISDIR;
  auto h = std::make_shared<FileHandle>();
  h->ino = ino;
  h->path = path;
  h->flags = flags;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
    if (opts_.read_only) return EROFS;
    if (!write_.staging || !write_.uploader) return ENOTSUP;
    if (int rc = open_for_write(path, a, flags, &h->pending)) return rc;
    h->writer = true;
  } else if (auto p = find_pending(path)) {
    h->pending = std::move(p);  // read the staged bytes, not the bucket's older ones
  } else {
    h->reader = std::make_unique<Prefetcher>(store_, keys_.file_key(path), a.size, opts_.prefetch_min_window,
                                             opts_.prefetch_max_window, budget_);
  }
  std::lock_guard<std::mutex> lk(handles_mu_);
  *fh = next_fh_++;
  files_[*fh] = std::move(h);
  return 0;
}

int Filesystem::read(uint64_t fh, uint64_t offset, size_t size, std::string* out) {
  out->clear();
  return read(fh, offset, size, [out](const char* data, size_t n) { out->assign(data, n); });
}

int Filesystem::read(uint64_t fh, uint64_t offset, size_t size, const ReadSink& deliver) {
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard<std::mutex> lk(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return EBADF;
    h = it->second;
  }
  if (h->pending) {
    uint64_t size_now;
    {
      std::lock_guard lk(pending_mu_);
      size_now = h->pending->attr.size;
    }
    if (offset >= size_now) {
      deliver("", 0);
      return 0;
    }
    size_t len = static_cast<size_t>(std::min<uint64_t>(size, size_now - offset));
    auto buf = std::make_unique_for_overwrite<char[]>(len);
    size_t got = 0;
    while (got < len) {
      ssize_t n = ::pread(h->pending->fd, buf.get() + got, len - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    deliver(buf.get(), got);
    return 0;
  }
  std::lock_guard<std::mutex> lk(h->mu);
  return h->reader->read(offset, size, deliver);
}

}  // namespace bucketfs::fs
