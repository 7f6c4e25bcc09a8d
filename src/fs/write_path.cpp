// write_path.cpp - the staged write path: files written through the mount live
// in the staging area until the uploader has them in the bucket.
//
// A Pending file is created by create/mknod, or by opening an existing object
// for writing (its bytes are first downloaded into staging unless O_TRUNC).
// The last writer's flush closes the version (commit): the staging file's data
// and its closed mark are made durable (StagingArea::mark_closed) before
// close(2) returns, then the upload is queued. A staging file that carries a
// mark is never changed: the next change forks a new staging file, so two
// generations never mix and a crash always finds the last closed version
// intact. A Pending goes away when the upload of its last generation is
// confirmed and nobody writes it, or when it is unlinked.
// The namespace changes of pending files are in pending_ops.cpp.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/metadata.hpp"
#include "bucketfs/util/crashpoint.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/time.hpp"
#include "pending.hpp"
#include "pending_registry.hpp"

namespace bucketfs::fs {

using timefmt::now_ts;
namespace {

constexpr std::chrono::milliseconds kSettle{1000};

// The largest object the store takes: 5 TiB on S3, 48.8 TiB on OSS.
uint64_t max_object_size(store::Dialect d) {
  return d == store::Dialect::OSS ? 48800ull * (1ull << 30) : 5ull << 40;
}

}  // namespace

std::string Filesystem::path_of_key(const std::string& key) const {
  const std::string& prefix = keys_.prefix();
  return key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key;
}

std::shared_ptr<Filesystem::Pending> Filesystem::find_pending(const std::string& path) const {
  return pending_->find(path);
}

// A new staging file for path, holding the object's current bytes unless
// truncate. The caller inserts it into the registry.
int Filesystem::stage_for_write(const std::string& path, const Attr& a, bool truncate,
                                std::shared_ptr<Pending>* out) {
  if (!write_.staging || !write_.uploader) return ENOTSUP;
  const std::string key = keys_.file_key(path);
  auto staged = write_.staging->create();
  if (!staged) return staged.error();
  auto p = std::make_shared<Pending>();
  p->path = path;
  p->staging_path = staged->path;
  p->set_file(std::move(staged->fd));
  p->attr = a;
  p->attr.exists = true;
  p->attr.size = 0;
  if (!truncate && a.exists) {
    // Whatever the bucket holds now, whatever size a cached stat said: a size
    // of 0 may be stale (another client wrote the object since).
    uint64_t off = 0;
    int werr = a.size > 0 ? write_.staging->check_space(a.size) : 0;
    store::StoreResult<uint64_t> got = uint64_t{0};
    if (werr == 0) {
      got = store_.get(key, 0, 0, [&](const char* d, size_t n) {
        if (off + n > a.size) werr = write_.staging->check_space(n);
        if (werr == 0) werr = pwrite_full(p->fd, d, n, off);
        off += n;
        return werr == 0;
      });
    }
    if (werr != 0 || (!got && got.error().code != store::ErrorCode::NoSuchKey)) {
      write_.staging->remove(p->staging_path);
      return werr != 0 ? werr : store::to_errno(got.error());
    }
    p->attr.size = got ? off : 0;  // gone meanwhile: written anew
  }
  *out = std::move(p);
  return 0;
}

int Filesystem::begin_change(const std::shared_ptr<Pending>& p, uint64_t keep_bytes) {
  uint64_t size;
  {
    auto lk = pending_->lock();
    if (!p->current_marked()) return 0;  // nothing closed lives in this file: change it in place
    size = p->attr.size;
  }
  // The closed version stays intact (its upload goes on, and a crash before
  // the next close still delivers it): the change goes to a copy.
  auto staged = write_.staging->create();
  if (!staged) return staged.error();
  const uint64_t want = std::min(keep_bytes, size);
  int err = want > 0 ? write_.staging->check_space(want) : 0;
  loff_t in = 0, out = 0;
  while (err == 0 && static_cast<uint64_t>(in) < want) {
    ssize_t n = ::copy_file_range(p->fd, &in, staged->fd.get(), &out, static_cast<size_t>(want - in), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = n < 0 ? errno : EIO;
  }
  if (err != 0) {
    write_.staging->remove(staged->path);
    return err;
  }
  {
    auto lk = pending_->lock();
    p->staging_path = staged->path;
    p->attr.size = want;
    p->dirty = true;
  }
  p->set_file(std::move(staged->fd));
  return 0;
}

int Filesystem::commit(const std::shared_ptr<Pending>& p, bool still_open) {
  const uint64_t generation = pending_->next_generation();
  stage::ClosedMark mark;
  std::string staging;
  {
    auto lk = pending_->lock();
    if (p->unlinked) return 0;
    mark.key = keys_.file_key(p->path);
    mark.generation = generation;
    mark.meta = to_metadata(p->attr);
    staging = p->staging_path;
  }
  if (int err = write_.staging->mark_closed(staging, p->fd, &mark)) {
    LOG_ERROR("cannot close " << p->path << " durably in the staging area: " << std::strerror(err));
    return err == ENOSPC || err == EDQUOT ? ENOSPC : EIO;
  }
  // Parts sent while the file was written go with it, if still unchanged.
  upload::StreamHandoff handoff{p->stream, std::move(p->part_version)};
  p->stream = 0;
  p->appending = false;
  p->part_version.clear();
  // From here on a crash delivers this version: it is closed.
  std::vector<std::string> superseded;
  {
    auto lk = pending_->lock();
    p->generation = generation;
    p->dirty = false;
    if (p->queued && p->queued->path != staging) p->superseded.push_back(p->queued->path);
    p->queued = Pending::Queued{staging, mark};
    superseded.swap(p->superseded);
  }
  BFS_CRASHPOINT("close.before_queue");
  // A close of one of several descriptors (a shell's dup2 dance) is often
  // followed by more writes: let the upload settle until the handle goes.
  auto r = write_.uploader->submit({staging, mark}, still_open ? kSettle : std::chrono::milliseconds(0),
                                   handoff.stream != 0 ? &handoff : nullptr);
  // The older generations' uploads are cancelled (submit did it): their files
  // go. Not durably here: the directory sync that comes before this version's
  // mark is dropped makes these removals durable first.
  for (const auto& old : superseded) write_.staging->remove(old);
  if (!r) {
    LOG_ERROR("cannot queue the upload of " << p->path << " (" << r.error().message
                                            << "); it is kept and uploaded at the next mount");
    return EIO;
  }
  return 0;
}

int Filesystem::recommit_metadata(const std::shared_ptr<Pending>& p) {
  const std::string key = keys_.file_key(p->path);
  write_.uploader->cancel(key);
  stage::ClosedMark mark;
  std::string staging;
  {
    auto lk = pending_->lock();
    if (p->unlinked) return 0;
    if (!p->current_marked() || p->dirty) {
      lk.unlock();
      return commit(p, false);  // confirmed meanwhile, or changed: an ordinary close
    }
    mark = p->queued->mark;
    staging = p->staging_path;
  }
  mark.generation = pending_->next_generation();
  {
    auto lk = pending_->lock();
    mark.meta = to_metadata(p->attr);
  }
  if (int err = write_.staging->rewrite_mark(staging, mark)) {
    LOG_ERROR("cannot record the new attributes of " << p->path << ": " << std::strerror(err));
    (void)write_.uploader->submit({staging, p->queued->mark});  // the old version still goes
    return EIO;
  }
  {
    auto lk = pending_->lock();
    p->generation = mark.generation;
    p->queued->mark = mark;
  }
  auto r = write_.uploader->submit({staging, mark});
  return r ? 0 : EIO;
}

void Filesystem::on_upload_done(const upload::UploadOutcome& o) {
  if (!o.ok) return;  // still pending; fsync waiters learn of it from the uploader
  const std::string path = path_of_key(o.key);
  bool remove = true;
  auto lk = pending_->lock();
  auto p = pending_->find_locked(path);
  if (p && p->queued && p->queued->path == o.staging_path && p->queued->mark.generation == o.generation)
    p->queued.reset();  // in the bucket now; the mark is gone
  if (p && p->staging_path == o.staging_path) {
    if (!p->queued && !p->dirty && p->writers == 0) {
      Attr a = p->attr;
      a.has_meta = true;
      pending_->erase_locked(p);
      cache_.note_entry(path, a);  // what the bucket now has, without asking it
    } else {
      remove = false;  // an open handle still reads or writes this file
    }
  }
  lk.unlock();
  // Its mark was dropped durably: a file nobody uses can go without a sync.
  if (remove) write_.staging->remove(o.staging_path);
}

void Filesystem::add_pending_entries(const std::string& dir, std::shared_ptr<const DirListing>* listing) {
  std::map<std::string, Attr> extra = pending_->entries_in(dir, dir_attr(nullptr, opts_, mount_time_));
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
  p->appending = true;
  if (!pending_->insert(p)) {
    // Raced with another create of the same name.
    write_.staging->remove(p->staging_path);
    return EEXIST;
  }
  // No cache change: a pending file shadows whatever the caches say of path.
  if (int frc = fill_entry(path, p->attr, out)) return frc;
  auto h = std::make_shared<FileHandle>();
  h->ino = out->ino;
  h->path = path;
  h->flags = flags;
  h->pending = p;
  h->writer = true;
  *fh = files_.add(std::move(h));
  return 0;
}

int Filesystem::mknod(Ino parent, const std::string& name, mode_t mode, dev_t rdev, const Context& ctx,
                      Entry* out) {
  if (opts_.read_only) return EROFS;
  if ((mode & S_IFMT) != 0 && !S_ISREG(mode)) return make_special(parent, name, mode, rdev, ctx, out);
  uint64_t fh = 0;
  if (int rc = create(parent, name, mode & 07777, O_WRONLY | O_EXCL, ctx, out, &fh)) return rc;
  int rc = flush(fh);
  int rrc = release(fh);
  return rc != 0 ? rc : rrc;
}

// Opens path for writing: joins its pending file or stages the object. *out
// gets the pinned Pending (writers already counted).
int Filesystem::open_for_write(const std::string& path, const Attr& a, int flags, std::shared_ptr<Pending>* out) {
  for (;;) {
    if (auto p = find_pending(path)) {
      std::lock_guard plk(p->mu);
      {
        auto lk = pending_->lock();
        if (pending_->find_locked(path) != p) continue;  // uploaded or moved meanwhile: look again
        ++p->writers;                                    // pinned: the done handler keeps it from now on
      }
      int rc = 0;
      if (flags & O_TRUNC) {
        rc = begin_change(p, 0);
        if (rc == 0 && ::ftruncate(p->fd, 0) != 0) rc = errno;
        if (rc == 0) p->resized(0);
      }
      auto lk = pending_->lock();
      if (rc != 0) {
        --p->writers;
        return rc;
      }
      if (flags & O_TRUNC) {
        p->attr.size = 0;
        p->attr.touch_data();
        p->dirty = true;
      }
      *out = std::move(p);
      return 0;
    }
    std::shared_ptr<Pending> p;
    if (int rc = stage_for_write(path, a, (flags & O_TRUNC) != 0, &p)) return rc;
    p->writers = 1;
    p->appending = (flags & O_TRUNC) != 0;
    p->dirty = (flags & O_TRUNC) != 0 && a.size > 0;
    if (p->dirty) p->attr.touch_data();
    if (!pending_->insert(p)) {
      write_.staging->remove(p->staging_path);  // someone staged it first: join theirs
      continue;
    }
    *out = std::move(p);
    return 0;
  }
}

// --- data --------------------------------------------------------------------

int Filesystem::write(uint64_t fh, uint64_t offset, const char* data, size_t size, size_t* written) {
  return write(
      fh, offset, size, [data](int fd, uint64_t off, size_t n) { return pwrite_full(fd, data, n, off); }, written);
}

int Filesystem::write(uint64_t fh, uint64_t offset, size_t size, const WriteSource& source, size_t* written) {
  auto h = files_.get(fh);
  if (!h) return EBADF;
  if (!h->writer || !h->pending) return opts_.read_only ? EROFS : EBADF;
  auto& p = h->pending;
  std::lock_guard plk(p->mu);
  uint64_t cur;
  {
    auto lk = pending_->lock();
    cur = p->attr.size;
  }
  if (h->flags & O_APPEND) offset = cur;
  if (offset + size > max_object_size(store_.dialect())) return EFBIG;
  if (offset + size > cur) {
    if (int rc = write_.staging->check_space(size)) return rc;
  }
  if (int rc = begin_change(p)) return rc;
  int rc = source(p->fd, offset, size);
  // A write that failed part way (ENOSPC, EIO) may still have changed bytes:
  // their parts are sent again from the closed file, never kept as streamed.
  p->changed(offset, size);
  if (rc) return rc;
  if (offset != cur) p->appending = false;
  uint64_t now;
  {
    auto lk = pending_->lock();
    p->attr.size = std::max<uint64_t>(p->attr.size, offset + size);
    p->attr.touch_data();
    p->dirty = true;
    now = p->attr.size;
  }
  if (p->appending) send_finished_parts(p, cur, now);
  *written = size;
  return 0;
}

// Under p->mu, after an append took the file from `before` to `after` bytes:
// the parts it finished go to disk (write-behind) and to the uploader. A part
// is finished once a byte past it is written, so the file closed is known to
// be longer than the part (a multipart upload whose parts are all full but the
// last).
void Filesystem::send_finished_parts(const std::shared_ptr<Pending>& p, uint64_t before, uint64_t after) {
  const uint64_t ps = p->stream_part != 0 ? p->stream_part : write_.uploader->stream_part_size();
  if (after <= ps) return;
  uint64_t first = std::max<uint64_t>(1, (before + ps - 1) / ps);
  const uint64_t last = (after - 1) / ps;
  if (first > last) return;
  write_.staging->write_behind(p->fd, (first - 1) * ps, (last - first + 1) * ps);
  // The stream opens once per file; a refused open is not asked again.
  const bool open_now = p->stream == 0;
  if (open_now && p->stream_tried) return;
  std::string key, staging;
  store::Metadata meta;
  {
    auto lk = pending_->lock();
    key = keys_.file_key(p->path);
    if (open_now) {
      meta = to_metadata(p->attr);
      staging = p->staging_path;
    }
  }
  if (open_now) {
    p->stream_tried = true;
    p->stream = write_.uploader->open_stream(key, staging, meta);
    if (p->stream == 0) return;
    p->stream_part = ps;
    first = 1;
  }
  if (p->part_version.size() < last) p->part_version.resize(last, 0);
  for (uint64_t n = first; n <= last; ++n)
    write_.uploader->stream_part(key, p->stream, static_cast<uint32_t>(n), p->part_version[n - 1]);
}

int Filesystem::flush(uint64_t fh) {
  auto h = files_.get(fh);
  if (!h) return EBADF;
  if (!h->writer || !h->pending) return 0;
  auto& p = h->pending;
  uint64_t generation = 0;
  std::string key;
  {
    std::lock_guard plk(p->mu);
    bool commit_now;
    {
      auto lk = pending_->lock();
      // The last writer's close makes the file durable; earlier closes do not,
      // so an upload never starts under a writer that is still going.
      commit_now = p->dirty && p->writers == 1 && !p->unlinked;
      generation = p->generation;
    }
    if (commit_now) {
      if (int rc = commit(p, !write_.sync_upload)) return rc;
    }
    auto lk = pending_->lock();
    generation = p->unlinked ? 0 : p->generation;
    key = keys_.file_key(p->path);  // renamed meanwhile: its new name
  }
  if (write_.sync_upload && generation != 0) return write_.uploader->wait(key, generation);
  return 0;
}

int Filesystem::fsync(uint64_t fh, bool) {
  auto h = files_.get(fh);
  if (!h) return EBADF;
  auto p = h->pending ? h->pending : find_pending(h->path);
  if (!p) return 0;  // not staged: the object in the bucket is the file
  uint64_t generation;
  std::string path;
  {
    std::lock_guard plk(p->mu);
    bool dirty;
    {
      auto lk = pending_->lock();
      dirty = p->dirty && !p->unlinked;
    }
    // fsync asks for durability now, even with other writers still open.
    if (dirty) {
      if (int rc = commit(p, false)) return rc;
    }
    auto lk = pending_->lock();
    if (p->unlinked) return 0;  // nothing of it is to reach the bucket
    generation = p->generation;
    path = p->path;
  }
  return write_.uploader->wait(keys_.file_key(path), generation);
}

int Filesystem::fsyncdir(Ino) {
  if (!write_.uploader) return 0;
  return write_.uploader->sync_state();
}

int Filesystem::release(uint64_t fh) {
  auto h = files_.take(fh);
  if (!h) return EBADF;
  if (!h->writer || !h->pending) return 0;
  auto& p = h->pending;
  std::lock_guard plk(p->mu);
  bool commit_now = false, drop = false, expedite = false;
  std::string key;
  {
    auto lk = pending_->lock();
    --p->writers;
    key = keys_.file_key(p->path);
    if (p->writers == 0 && !p->unlinked) {
      expedite = p->queued && !p->dirty;
      commit_now = p->dirty;  // flush failed or was skipped: do not lose the data
      // Opened for writing but never changed, or confirmed meanwhile: the
      // bucket already has exactly this file.
      drop = !p->dirty && !p->queued;
      if (drop) {
        pending_->erase_locked(p);
        Attr a = p->attr;
        a.has_meta = true;
        cache_.note_entry(p->path, a);
      }
    }
  }
  if (drop) write_.staging->remove(p->staging_path);
  if (expedite) write_.uploader->expedite(key);
  if (commit_now) {
    if (int rc = commit(p, false))
      LOG_ERROR("upload of " << h->path << " could not be recorded at release: " << std::strerror(rc));
  }
  return 0;
}

}  // namespace bucketfs::fs
