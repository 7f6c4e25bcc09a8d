// write_path.cpp - the staged write path: files written through the mount live
// in the staging area until the uploader has them in the bucket.
//
// A Pending file is created by create/mknod, or by opening an existing object
// for writing (its bytes are first downloaded into staging unless O_TRUNC).
// The last writer's flush fsyncs the staging file and commits a checkpoint
// record (Uploader::submit) before close(2) returns; any later change first
// cancels the queued upload (a new generation), so two generations never mix.
// A Pending entry goes away when the upload of its last generation is
// confirmed and nobody writes it, or when it is unlinked.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/metadata.hpp"
#include "bucketfs/util/log.hpp"
#include "pending.hpp"

namespace bucketfs::fs {
namespace {

constexpr std::chrono::milliseconds kSettle{1000};

struct timespec now_ts() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

int pwrite_all(int fd, const char* data, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return 0;
}

}  // namespace

std::string Filesystem::path_of_key(const std::string& key) const {
  const std::string& prefix = keys_.prefix();
  return key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key;
}

std::shared_ptr<Filesystem::Pending> Filesystem::find_pending(const std::string& path) const {
  std::lock_guard lk(pending_mu_);
  auto it = pending_.find(path);
  return it == pending_.end() ? nullptr : it->second;
}

// A new staging file for path, holding the object's current bytes unless
// truncate. The caller inserts it into pending_.
int Filesystem::stage_for_write(const std::string& path, const Attr& a, bool truncate,
                                std::shared_ptr<Pending>* out) {
  if (!write_.staging || !write_.uploader) return ENOTSUP;
  const std::string key = keys_.file_key(path);
  auto staged = write_.staging->create();
  if (!staged) return staged.error();
  auto p = std::make_shared<Pending>();
  p->fd = staged->fd;
  p->path = path;
  p->staging_path = staged->path;
  p->attr = a;
  p->attr.exists = true;
  if (truncate || !a.exists) {
    p->attr.size = 0;
  } else if (a.size > 0) {
    if (int rc = write_.staging->reserve(a.size)) {
      write_.staging->remove(p->staging_path);
      return rc;
    }
    uint64_t off = 0;
    int werr = 0;
    auto got = store_.get(key, 0, 0, [&](const char* d, size_t n) {
      werr = pwrite_all(p->fd, d, n, off);
      off += n;
      return werr == 0;
    });
    if (!got || werr != 0 || off != a.size) {
      write_.staging->remove(p->staging_path);
      if (werr != 0) return werr;
      return got ? EIO : store::to_errno(got.error());
    }
  }
  *out = std::move(p);
  return 0;
}

int Filesystem::begin_change(const std::shared_ptr<Pending>& p, bool data, uint64_t keep_bytes) {
  bool submitted;
  std::string path;
  uint64_t size;
  {
    std::lock_guard lk(pending_mu_);
    submitted = p->submitted;
    path = p->path;
    size = p->attr.size;
  }
  if (!submitted) return 0;  // nothing closed depends on these bytes
  if (!data) {
    // Same bytes, new metadata: cancel the queued upload; the next commit
    // re-queues the file as a new generation.
    {
      std::lock_guard lk(pending_mu_);
      p->submitted = false;
    }
    write_.uploader->cancel(keys_.file_key(path), false);
    return 0;
  }
  // The closed version stays intact (its upload goes on, and a crash before
  // the next close still delivers it): the change goes to a copy.
  auto staged = write_.staging->create();
  if (!staged) return staged.error();
  uint64_t want = std::min(keep_bytes, size);
  if (want > 0) {
    if (int rc = write_.staging->reserve(want)) {
      ::close(staged->fd);
      write_.staging->remove(staged->path);
      return rc;
    }
    loff_t in = 0, out = 0;
    while (static_cast<uint64_t>(in) < want) {
      ssize_t n = ::copy_file_range(p->fd, &in, staged->fd, &out, static_cast<size_t>(want - in), 0);
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        ::close(staged->fd);
        write_.staging->remove(staged->path);
        return err;
      }
    }
  }
  std::lock_guard lk(pending_mu_);
  p->superseded_staging.push_back(p->staging_path);
  p->retired_fds.push_back(p->fd.exchange(staged->fd));
  p->staging_path = staged->path;
  p->attr.size = want;
  p->submitted = false;
  p->dirty = true;
  return 0;
}

// Makes the staging file durable and commits its record; the upload starts in
// the background. Before this returns, a crash cannot lose the file.
int Filesystem::commit(const std::shared_ptr<Pending>& p, bool still_open) {
  checkpoint::UploadRecord rec;
  {
    std::lock_guard lk(pending_mu_);
    if (p->unlinked) return 0;
    rec.generation = next_generation_++;
    rec.key = keys_.file_key(p->path);
    rec.meta = to_metadata(p->attr);
  }
  // (The uploader's submit fsyncs the staging file together with its closed mark.)
  struct stat st;
  if (::fstat(p->fd, &st) != 0) return errno;
  rec.staging_path = p->staging_path;
  rec.size = static_cast<uint64_t>(st.st_size);
  rec.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard lk(pending_mu_);
    p->generation = rec.generation;
    p->dirty = false;
    p->submitted = true;
  }
  // A close of one of several descriptors (a shell's dup2 dance) is often
  // followed by more writes: let the upload settle until the handle goes.
  auto r = write_.uploader->submit(std::move(rec), still_open ? kSettle : std::chrono::milliseconds(0));
  if (!r) {
    std::lock_guard lk(pending_mu_);
    p->dirty = true;
    p->submitted = false;
    LOG_ERROR("cannot record " << p->path << " for upload: " << r.error().message);
    return r.error().kind == checkpoint::StoreError::NoSpace ? ENOSPC : EIO;
  }
  // The new record replaced the older generations' (their uploads are
  // cancelled): their staging files are no longer needed.
  for (const auto& old : p->superseded_staging) write_.staging->remove(old);
  p->superseded_staging.clear();
  return 0;
}

void Filesystem::on_upload_done(const upload::UploadOutcome& o) {
  if (!o.ok) return;  // still pending; fsync waiters learn of it from the uploader
  const std::string path = path_of_key(o.key);
  bool drop_staging = true;
  {
    std::lock_guard lk(pending_mu_);
    auto it = pending_.find(path);
    if (it == pending_.end() || it->second->staging_path != o.staging_path) {
      // Renamed while this upload finished under its old key: the file still
      // lives in this staging file, and rename_pending (which holds the file
      // until it is done) moves the object and settles the entry.
      for (const auto& [other, q] : pending_)
        if (q->staging_path == o.staging_path) drop_staging = false;
    }
    if (it != pending_.end() && it->second->staging_path == o.staging_path) {
      auto& p = it->second;
      if (p->generation == o.generation) p->submitted = false;
      if (p->generation == o.generation && !p->dirty && p->writers == 0) {
        Attr a = p->attr;
        a.has_meta = true;
        pending_.erase(it);
        cache_.note_entry(path, a);  // what the bucket now has, without asking it
      } else {
        drop_staging = false;  // a newer generation lives in this staging file
      }
    }
  }
  if (drop_staging) write_.staging->remove(o.staging_path);
}

void Filesystem::add_pending_entries(const std::string& dir, std::shared_ptr<const DirListing>* listing) {
  std::map<std::string, Attr> extra;
  {
    std::lock_guard lk(pending_mu_);
    auto it = dir.empty() ? pending_.begin() : pending_.lower_bound(dir + "/");
    for (; it != pending_.end(); ++it) {
      const std::string& p = it->first;
      if (!dir.empty() && !KeyMapper::is_under(p, dir)) break;
      std::string rest = dir.empty() ? p : p.substr(dir.size() + 1);
      auto slash = rest.find('/');
      if (slash == std::string::npos) {
        extra[rest] = it->second->attr;
      } else if (!extra.count(rest.substr(0, slash))) {
        extra[rest.substr(0, slash)] = dir_attr(nullptr, opts_, mount_time_);
      }
    }
  }
  if (extra.empty()) return;
  std::map<std::string, Attr> merged((*listing)->entries.begin(), (*listing)->entries.end());
  for (auto& [name, a] : extra) {
    auto [pos, inserted] = merged.emplace(name, a);
    if (!inserted && !a.is_dir()) pos->second = a;  // the staged file is the newest version
  }
  auto out = std::make_shared<DirListing>();
  out->entries.assign(merged.begin(), merged.end());
  *listing = std::move(out);
}

// --- creating and opening ------------------------------------------------------

int Filesystem::create(Ino parent, const std::string& name, mode_t mode, int flags, const Context& ctx, Entry* out,
                       uint64_t* fh) {
  if (opts_.read_only) return EROFS;
  if ((mode & S_IFMT) != 0 && !S_ISREG(mode)) return ENOTSUP;
  if (!write_.staging || !write_.uploader) return ENOTSUP;
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  Attr existing;
  int rc = stat_path(path, &existing);
  if (rc == 0) {
    // create(2) of an existing name without O_EXCL opens it.
    if (flags & O_EXCL) return EEXIST;
    if (existing.is_dir()) return EISDIR;
    if (int frc = fill_entry(path, existing, out)) return frc;
    if (int orc = open(out->ino, flags, fh)) {
      table_.forget(out->ino, 1);
      return orc;
    }
    Attr now;
    if (stat_path(path, &now) == 0) out->attr = to_stat(out->ino, now);
    return 0;
  }
  if (rc != ENOENT) return rc;
  Attr a = new_object_attr(S_IFREG | (mode & ~ctx.umask & 07777), ctx, 0);
  std::shared_ptr<Pending> p;
  if (int src = stage_for_write(path, a, true, &p)) return src;
  p->dirty = true;  // a new file is uploaded even if nothing is written
  p->writers = 1;
  {
    std::lock_guard lk(pending_mu_);
    auto old = pending_.find(path);
    if (old != pending_.end()) {
      // Raced with another create of the same name: open theirs instead.
      write_.staging->remove(p->staging_path);
      return EEXIST;
    }
    pending_[path] = p;
  }
  // No cache change: a pending file shadows whatever the caches say of path.
  if (int frc = fill_entry(path, p->attr, out)) return frc;
  auto h = std::make_shared<FileHandle>();
  h->ino = out->ino;
  h->path = path;
  h->flags = flags;
  h->pending = p;
  h->writer = true;
  std::lock_guard lk(handles_mu_);
  *fh = next_fh_++;
  files_[*fh] = std::move(h);
  return 0;
}

int Filesystem::mknod(Ino parent, const std::string& name, mode_t mode, const Context& ctx, Entry* out) {
  if (opts_.read_only) return EROFS;
  if ((mode & S_IFMT) != 0 && !S_ISREG(mode)) return ENOTSUP;  // no devices, fifos or sockets in a bucket
  uint64_t fh = 0;
  if (int rc = create(parent, name, mode & 07777, O_WRONLY | O_EXCL, ctx, out, &fh)) return rc;
  flush(fh);
  return release(fh);
}

// Opens path for writing: joins its pending file (a new generation) or stages
// the object. *out gets the pinned Pending (writers already counted).
int Filesystem::open_for_write(const std::string& path, const Attr& a, int flags, std::shared_ptr<Pending>* out) {
  for (;;) {
    if (auto p = find_pending(path)) {
      std::lock_guard plk(p->mu);
      {
        std::lock_guard lk(pending_mu_);
        auto it = pending_.find(path);
        if (it == pending_.end() || it->second != p) continue;  // uploaded meanwhile: stage again
        ++p->writers;                                           // pinned: the done handler keeps it from now on
      }
      if (int rc = begin_change(p, true, (flags & O_TRUNC) ? 0 : UINT64_MAX)) {
        std::lock_guard lk(pending_mu_);
        --p->writers;
        return rc;
      }
      if (flags & O_TRUNC) {
        if (::ftruncate(p->fd, 0) != 0) {
          int err = errno;
          std::lock_guard lk(pending_mu_);
          --p->writers;
          return err;
        }
        std::lock_guard lk(pending_mu_);
        p->attr.size = 0;
        p->attr.mtime = now_ts();
        p->dirty = true;
      }
      *out = std::move(p);
      return 0;
    }
    std::shared_ptr<Pending> p;
    if (int rc = stage_for_write(path, a, (flags & O_TRUNC) != 0, &p)) return rc;
    p->writers = 1;
    p->dirty = (flags & O_TRUNC) != 0 && a.size > 0;
    if (p->dirty) p->attr.mtime = now_ts();
    {
      std::lock_guard lk(pending_mu_);
      if (pending_.count(path)) {
        write_.staging->remove(p->staging_path);  // someone staged it first: join theirs
        continue;
      }
      pending_[path] = p;
    }
    *out = std::move(p);
    return 0;
  }
}

// --- data --------------------------------------------------------------------

int Filesystem::write(uint64_t fh, uint64_t offset, const char* data, size_t size, size_t* written) {
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard lk(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return EBADF;
    h = it->second;
  }
  if (!h->writer || !h->pending) return opts_.read_only ? EROFS : EBADF;
  auto& p = h->pending;
  std::lock_guard plk(p->mu);
  uint64_t cur;
  {
    std::lock_guard lk(pending_mu_);
    cur = p->attr.size;
  }
  if (h->flags & O_APPEND) offset = cur;
  if (offset + size > cur) {
    if (int rc = write_.staging->reserve(size)) return rc;
  }
  if (int rc = begin_change(p, true)) return rc;
  if (int rc = pwrite_all(p->fd, data, size, offset)) return rc;
  {
    std::lock_guard lk(pending_mu_);
    p->attr.size = std::max<uint64_t>(p->attr.size, offset + size);
    p->attr.mtime = now_ts();
    p->dirty = true;
  }
  *written = size;
  return 0;
}

int Filesystem::flush(uint64_t fh) {
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard lk(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return EBADF;
    h = it->second;
  }
  if (!h->writer || !h->pending) return 0;
  auto& p = h->pending;
  uint64_t generation = 0;
  {
    std::lock_guard plk(p->mu);
    bool commit_now;
    {
      std::lock_guard lk(pending_mu_);
      // The last writer's close makes the file durable; earlier closes do not,
      // so an upload never starts under a writer that is still going.
      commit_now = p->dirty && p->writers == 1;
      generation = p->generation;
    }
    if (commit_now) {
      if (int rc = commit(p, !write_.sync_upload)) return rc;
      std::lock_guard lk(pending_mu_);
      generation = p->generation;
    }
  }
  if (write_.sync_upload && generation != 0) {
    return write_.uploader->wait(keys_.file_key(h->path), generation);
  }
  return 0;
}

int Filesystem::fsync(uint64_t fh, bool) {
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard lk(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return EBADF;
    h = it->second;
  }
  auto p = h->pending ? h->pending : find_pending(h->path);
  if (!p) return 0;  // not staged: the object in the bucket is the file
  uint64_t generation;
  std::string path;
  {
    std::lock_guard plk(p->mu);
    bool dirty;
    {
      std::lock_guard lk(pending_mu_);
      dirty = p->dirty;
    }
    // fsync asks for durability now, even with other writers still open.
    if (dirty) {
      if (int rc = commit(p, false)) return rc;
    }
    std::lock_guard lk(pending_mu_);
    generation = p->generation;
    path = p->path;
  }
  return write_.uploader->wait(keys_.file_key(path), generation);
}

int Filesystem::release(uint64_t fh) {
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard lk(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return EBADF;
    h = std::move(it->second);
    files_.erase(it);
  }
  if (!h->writer || !h->pending) return 0;
  auto& p = h->pending;
  std::lock_guard plk(p->mu);
  bool commit_now = false, drop = false, expedite = false;
  {
    std::lock_guard lk(pending_mu_);
    --p->writers;
    if (p->writers == 0 && !p->unlinked) {
      expedite = p->submitted && !p->dirty;
      commit_now = p->dirty;  // flush failed or was skipped: do not lose the data
      // Opened for writing but never changed: the bucket already has it.
      drop = !p->dirty && !p->submitted;
      if (drop) {
        auto it = pending_.find(p->path);
        if (it != pending_.end() && it->second == p) pending_.erase(it);
        Attr a = p->attr;
        a.has_meta = true;
        cache_.note_entry(p->path, a);  // the bucket's object is exactly this file
      }
    }
  }
  if (drop) write_.staging->remove(p->staging_path);
  if (expedite) write_.uploader->expedite(keys_.file_key(h->path));
  if (commit_now) {
    if (int rc = commit(p, false))
      LOG_ERROR("upload of " << h->path << " could not be recorded at release: " << std::strerror(rc));
  }
  return 0;
}

// --- namespace changes of pending files ---------------------------------------

int Filesystem::unlink_pending(const std::string& path) {
  auto p = find_pending(path);
  if (!p) return ENOENT;
  std::lock_guard plk(p->mu);
  {
    std::lock_guard lk(pending_mu_);
    auto it = pending_.find(path);
    if (it == pending_.end() || it->second != p) return ENOENT;
    pending_.erase(it);
    p->unlinked = true;
    p->submitted = false;
    p->dirty = false;
  }
  write_.uploader->cancel(keys_.file_key(path), true);
  write_.staging->remove(p->staging_path);  // open handles keep their fd
  for (const auto& old : p->superseded_staging) write_.staging->remove(old);
  p->superseded_staging.clear();
  return 0;
}

int Filesystem::rename_pending(const std::string& from, const std::string& to) {
  std::vector<std::shared_ptr<Pending>> moving;
  {
    std::lock_guard lk(pending_mu_);
    for (auto& [path, p] : pending_)
      if (path == from || KeyMapper::is_under(path, from)) moving.push_back(p);
  }
  for (auto& p : moving) {
    {
      // A pending file at the destination is replaced: unlink it properly
      // (its upload cancelled, its record and its closed staging files
      // removed), or the next mount would upload it again under that name.
      std::string dst;
      {
        std::lock_guard lk(pending_mu_);
        dst = to + p->path.substr(from.size());
      }
      auto there = find_pending(dst);
      if (there && there != p) unlink_pending(dst);
    }
    std::lock_guard plk(p->mu);
    std::string old_path, new_path;
    bool still_pending;
    {
      std::lock_guard lk(pending_mu_);
      if (p->unlinked) continue;
      old_path = p->path;
      new_path = to + old_path.substr(from.size());
      auto it = pending_.find(old_path);
      still_pending = it != pending_.end() && it->second == p;
      if (still_pending) {
        if (auto dst = pending_.find(new_path); dst != pending_.end()) {
          // Replacing another pending file: it is gone, like an unlinked one.
          dst->second->unlinked = true;
          pending_.erase(dst);
        }
        pending_.erase(old_path);
        p->path = new_path;
        pending_[new_path] = p;
      }
    }
    const std::string old_key = keys_.file_key(old_path), new_key = keys_.file_key(new_path);
    if (!still_pending) {
      // Its upload completed since the rename began: it is an object now.
      if (int rc = move_object(old_key, new_key, true)) return rc;
      continue;
    }
    write_.uploader->cancel(new_key, true);  // an upload of the replaced file
    // A queued upload (the closed version, even while a newer one is being
    // written) moves to the new key, sidecar and all; a generation still being
    // written gets its key when it is closed.
    auto moved = write_.uploader->retarget(old_key, new_key);
    if (!moved) {
      LOG_ERROR("rename of pending " << old_path << ": " << moved.error().message);
      return EIO;
    }
    if (*moved) {
      // An older version of the file may already be in the bucket under the old name.
      auto r = store_.remove(old_key);
      if (!r) return store::to_errno(r.error());
      continue;
    }
    // No upload in flight: the last closed version, if any, is in the bucket
    // under the old name (perhaps only just: it may have landed while this
    // rename took its upload over, see on_upload_done). It moves there.
    if (int rc = move_object(old_key, new_key, true)) return rc;
    std::string drop;
    {
      std::lock_guard lk(pending_mu_);
      auto it = pending_.find(new_path);
      if (p->submitted && it != pending_.end() && it->second == p) {
        p->submitted = false;  // what was submitted is in the bucket
        if (!p->dirty && p->writers == 0) {
          Attr a = p->attr;
          a.has_meta = true;
          pending_.erase(it);
          drop = p->staging_path;
          cache_.note_entry(new_path, a);
        }
      }
    }
    if (!drop.empty()) write_.staging->remove(drop);
  }
  return 0;
}

int Filesystem::setattr_pending(const std::shared_ptr<Pending>& p, const SetAttr& changes, Attr* out) {
  std::lock_guard plk(p->mu);
  bool idle;
  {
    std::lock_guard lk(pending_mu_);
    if (p->unlinked) return ENOENT;
    ++p->writers;  // pinned while we change it
    idle = p->writers == 1;
  }
  const bool resize = changes.valid & SetAttr::kSize;
  int rc = begin_change(p, resize, resize ? changes.size : UINT64_MAX);
  if (resize && rc == 0) {
    if (changes.size > p->attr.size) rc = write_.staging->reserve(changes.size - p->attr.size);
    if (rc == 0 && ::ftruncate(p->fd, static_cast<off_t>(changes.size)) != 0) rc = errno;
  }
  {
    std::lock_guard lk(pending_mu_);
    if (rc == 0) {
      if (resize) {
        p->attr.size = changes.size;
        p->attr.mtime = now_ts();
      }
      if (changes.valid & SetAttr::kMode) p->attr.mode = (p->attr.mode & S_IFMT) | (changes.mode & 07777);
      if (changes.valid & SetAttr::kUid) p->attr.uid = changes.uid;
      if (changes.valid & SetAttr::kGid) p->attr.gid = changes.gid;
      if (changes.valid & SetAttr::kMtime) p->attr.mtime = changes.mtime;
    }
    // Metadata goes with the upload: any change means a new generation.
    p->dirty = true;
    *out = p->attr;
    --p->writers;
  }
  // With no writer open, nobody else will close it: commit now.
  if (idle) {
    if (int crc = commit(p, false); crc != 0 && rc == 0) rc = crc;
  }
  return rc;
}

}  // namespace bucketfs::fs
