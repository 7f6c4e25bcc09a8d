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
#include "bucketfs/util/time.hpp"
#include "dir_lister.hpp"
#include "pending.hpp"
#include "pending_registry.hpp"

namespace bucketfs::fs {

constexpr const char* kDirContentType = "application/x-directory";

struct Filesystem::DirHandle {
  Ino ino = 0;
  std::string path;
  std::shared_ptr<const DirListing> listing;  // complete, or
  std::shared_ptr<DirLister::Stream> stream;  // still arriving
};

Filesystem::Filesystem(store::ObjectStore& store, Options opts, WriteBackend write)
    : store_(store),
      opts_(std::move(opts)),
      keys_(opts_.prefix),
      cache_(opts_.stat_ttl, opts_.dir_ttl),
      budget_(opts_.prefetch_memory_budget),
      mount_time_(std::time(nullptr)),
      write_(),
      pending_(std::make_unique<PendingRegistry>()),
      lister_(std::make_unique<DirLister>(store_, opts_, keys_, cache_, mount_time_)) {
  if (write.uploader) attach_write_backend(write);
}

void Filesystem::attach_write_backend(WriteBackend write) {
  write_ = write;
  if (!write_.uploader) return;
  // Uploads resumed from the staging area are pending files like any other.
  for (auto& f : write_.uploader->pending()) {
    if (f.mark.key.compare(0, keys_.prefix().size(), keys_.prefix()) != 0) continue;
    auto fd = write_.staging->open_file(f.staging_path, O_RDWR);
    if (!fd) continue;  // the uploader reports it
    auto p = std::make_shared<Pending>();
    store::ObjectInfo info;
    info.key = f.mark.key;
    info.size = f.mark.size;
    info.meta = f.mark.meta;
    info.last_modified = mount_time_;
    p->attr = file_attr_from_head(info, opts_);
    p->path = path_of_key(f.mark.key);
    p->staging_path = f.staging_path;
    p->set_file(std::move(*fd));
    p->generation = f.mark.generation;
    p->queued = Pending::Queued{f.staging_path, f.mark};
    pending_->saw_generation(f.mark.generation);
    pending_->insert(p);
  }
  write_.uploader->set_done_handler([this](const upload::UploadOutcome& o) { on_upload_done(o); });
}

Filesystem::~Filesystem() {
  // Directory handles first: their listing threads use the members.
  dirs_.clear();
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
  st.st_blksize = kIoBlockBytes;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_mtim = a.mtime;
  st.st_ctim = a.shown_ctime();
  st.st_atim = a.shown_atime();
  st.st_rdev = a.rdev;
  return st;
}

int Filesystem::head_meta(const std::string& key, store::ObjectInfo* out, bool* found) {
  return head_object(store_, key, out, found);
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
    bool is_dir = false;
    if (pending_->stat(path, out, &is_dir)) {
      if (is_dir && (!cache_.get_attr(path, out) || !out->exists || !out->is_dir()))
        *out = dir_attr(nullptr, opts_, mount_time_);
      return 0;
    }
  }
  if (cache_.get_attr(path, out)) {
    atimes_.apply(path, out);
    return out->exists ? 0 : ENOENT;
  }
  // A fresh listing of the parent answers without a request, when it carries
  // full attributes (or the mount is configured not to fetch them).
  if (auto listing = cache_.get_dir(KeyMapper::parent_of(path))) {
    const Attr* a = listing->find(KeyMapper::name_of(path));
    if (!a) return ENOENT;
    if (a->has_meta || listing->meta_skipped || opts_.readdir_meta == Options::ReaddirMeta::Off) {
      *out = *a;
      atimes_.apply(path, out);
      return 0;
    }
  }
  if (int rc = stat_path_uncached(path, out)) return rc;
  cache_.put_attr(path, *out);
  atimes_.apply(path, out);
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

int Filesystem::attr_of_open(Ino ino, Attr* out) {
  auto open = files_.select([ino](const FileHandle& h) { return h.ino == ino; });
  for (auto& h : open) {
    if (h->pending) {
      auto lk = pending_->lock();
      *out = h->pending->attr;
      return 0;
    }
  }
  for (auto& h : open) {
    std::lock_guard hl(h->mu);
    *out = h->attr;
    if (h->local) out->size = h->local->size;
    return 0;
  }
  return ENOENT;
}

int Filesystem::getattr(Ino ino, struct stat* out, double* attr_timeout) {
  std::string path;
  Attr a;
  if (path_of(ino, &path) != 0) {
    // Unlinked while open: fstat on the descriptor still answers (POSIX).
    if (int rc = attr_of_open(ino, &a)) return rc;
    *out = to_stat(ino, a);
    out->st_nlink = 0;
    *attr_timeout = 0;
    return 0;
  }
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
    auto stream = std::make_shared<DirLister::Stream>();
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
          rc = lister_->list(path, &listing, s);
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
    if (int rc = lister_->list(path, &h->listing)) return rc;
    add_pending_entries(path, &h->listing);
  }
  *fh = dirs_.add(std::move(h));
  return 0;
}

int Filesystem::readdir(uint64_t fh, uint64_t offset, bool plus, const DirSink& sink) {
  auto h = dirs_.get(fh);
  if (!h) return EBADF;
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
  DirLister::Stream& s = *h->stream;
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
  auto h = dirs_.take(fh);
  return h ? 0 : EBADF;  // a listing still arriving stops here, outside the lock
}

// --- open files --------------------------------------------------------------

int Filesystem::open(Ino ino, int flags, uint64_t* fh) {
  std::string path;
  if (int rc = path_of(ino, &path)) return rc;
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  if (a.is_dir()) return EISDIR;
  if (!a.is_regular() && !a.is_symlink()) return ENXIO;  // a FIFO or device the kernel did not open itself
  auto h = std::make_shared<FileHandle>();
  h->ino = ino;
  h->path = path;
  h->flags = flags;
  h->attr = a;
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
  *fh = files_.add(std::move(h));
  return 0;
}

int Filesystem::read(uint64_t fh, uint64_t offset, size_t size, std::string* out) {
  out->clear();
  return read(fh, offset, size, [out](const char* data, size_t n) { out->assign(data, n); });
}

int Filesystem::read(uint64_t fh, uint64_t offset, size_t size, const ReadSink& deliver) {
  auto h = files_.get(fh);
  if (!h) return EBADF;
  if (!h->accessed.exchange(true)) note_access(*h);
  if (h->pending) {
    uint64_t size_now;
    {
      auto lk = pending_->lock();
      size_now = h->pending->attr.size;
    }
    if (offset >= size_now) {
      deliver("", 0);
      return 0;
    }
    size_t len = static_cast<size_t>(std::min<uint64_t>(size, size_now - offset));
    auto buf = std::make_unique_for_overwrite<char[]>(len);
    size_t got = 0;
    if (int err = pread_full(h->pending->fd, buf.get(), len, offset, &got)) return err;
    deliver(buf.get(), got);
    return 0;
  }
  std::lock_guard<RankedMutex> lk(h->mu);
  if (h->local) {
    // Unlinked while open: its private copy.
    if (offset >= h->local->size) {
      deliver("", 0);
      return 0;
    }
    size_t len = static_cast<size_t>(std::min<uint64_t>(size, h->local->size - offset)), got = 0;
    auto buf = std::make_unique_for_overwrite<char[]>(len);
    if (int err = pread_full(h->local->fd.get(), buf.get(), len, offset, &got)) return err;
    deliver(buf.get(), got);
    return 0;
  }
  return h->reader->read(offset, size, deliver);
}

void Filesystem::note_access(FileHandle& h) {
  if (h.pending) {
    // A staged file's atime goes up with its next upload.
    auto lk = pending_->lock();
    struct timespec now = timefmt::now_ts();
    if (AtimeTable::due(h.pending->attr, now)) h.pending->attr.atime = now;
    return;
  }
  Attr a = h.attr;  // as at open: no request for an access time
  atimes_.accessed(h.path, &a);
}

}  // namespace bucketfs::fs
