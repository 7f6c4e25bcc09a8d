// pending_ops.cpp - unlink, rename and setattr of files still pending upload.
//
// Each is ordered so that a crash (process or power) at any step leaves the
// file either as it was before the operation or as it is after it:
//  - unlink: the upload stops, the bucket's object goes, then the staging
//    files go durably. A crash before the last step re-uploads the closed
//    version (the unlink had not returned): never an older one.
//  - rename A -> B: the uploads of A (and of a pending B it replaces) stop,
//    the bucket's object under A goes, then the closed version's mark is
//    rewritten durably to B with a new, higher generation (so it wins over a
//    replaced B's), the replaced B's files go durably, and the upload starts
//    under B. A crash before the mark is rewritten re-uploads the file as A.
//  - chmod/chown/utimens of a closed, queued file with no writer: the same
//    bytes get a new generation (the mark rewritten durably). With a writer
//    open, the change forks like a data change and goes with the next close.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/util/crashpoint.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/time.hpp"
#include "pending.hpp"
#include "pending_registry.hpp"

namespace bucketfs::fs {

using timefmt::now_ts;
namespace {

// Every staging file a Pending holds (registry lock held).
std::vector<std::string> files_of(const Filesystem::Pending& p) {
  std::vector<std::string> out = p.superseded;
  out.push_back(p.staging_path);
  if (p.queued && p.queued->path != p.staging_path) out.push_back(p.queued->path);
  return out;
}

}  // namespace

void Filesystem::unpin(const std::shared_ptr<Pending>& p) {
  std::string drop;
  {
    auto lk = pending_->lock();
    if (--p->writers == 0 && !p->unlinked && !p->dirty && !p->queued) {
      // Nothing to upload any more (it landed while pinned) and nobody writes it.
      pending_->erase_locked(p);
      drop = p->staging_path;
    }
  }
  if (!drop.empty()) write_.staging->remove(drop);
}

int Filesystem::unlink_pending(const std::string& path) {
  auto p = find_pending(path);
  if (!p) return ENOENT;
  std::lock_guard plk(p->mu);
  {
    auto lk = pending_->lock();
    if (p->unlinked || pending_->find_locked(path) != p) return ENOENT;
  }
  const std::string key = keys_.file_key(path);
  write_.uploader->cancel(key);
  // The bucket may hold an older version (or the one that just landed).
  if (auto r = store_.remove(key); !r) {
    std::optional<Pending::Queued> q;
    {
      auto lk = pending_->lock();
      q = p->queued;
    }
    if (q) (void)write_.uploader->submit({q->path, q->mark});  // unlink failed: the file stays as it was
    return store::to_errno(r.error());
  }
  BFS_CRASHPOINT("unlink.object_removed");
  return forget_pending(p);
}

int Filesystem::forget_pending(const std::shared_ptr<Pending>& p) {
  std::vector<std::string> gone;
  std::string path;
  {
    auto lk = pending_->lock();
    if (p->unlinked) return 0;
    pending_->erase_locked(p);
    gone = files_of(*p);  // the queued closed version's file too
    p->unlinked = true;
    p->dirty = false;
    p->queued.reset();
    p->superseded.clear();
    path = p->path;
  }
  // Durably: a power cut must not bring the closed version back. Open handles
  // keep their descriptors (POSIX: the data lives until the last close).
  if (int err = write_.staging->remove_durably(gone)) {
    LOG_ERROR("cannot remove the staging files of " << path << " durably: " << std::strerror(err));
    return EIO;
  }
  return 0;
}

std::vector<std::shared_ptr<Filesystem::Pending>> Filesystem::pin_pending(const std::string& from) {
  std::vector<std::shared_ptr<Pending>> pinned;
  for (auto& p : pending_->under(from)) {
    {
      auto lk = pending_->lock();
      // Confirmed in the bucket (and dropped from the registry) since under():
      // the caller renames it as an object.
      if (p->unlinked || pending_->find_locked(p->path) != p) continue;
      ++p->writers;  // kept in the registry whatever its upload does
    }
    std::lock_guard plk(p->mu);
    std::string key;
    {
      auto lk = pending_->lock();
      key = keys_.file_key(p->path);
    }
    write_.uploader->cancel(key);  // nothing lands under the old name from now on
    pinned.push_back(std::move(p));
  }
  return pinned;
}

int Filesystem::settle_renamed(const std::vector<std::shared_ptr<Pending>>& pinned, const std::string& from,
                               const std::string& to) {
  int rc = 0;
  for (const auto& p : pinned) {
    if (rc == 0) rc = move_pending(p, from, to);
    unpin(p);
  }
  return rc;
}

// The closed version queued for upload goes up again under the new name: the
// bucket's object under the old name (older, or just landed) goes first, then
// the mark is rewritten durably with a new generation. On an error *queued
// is as it was (the old key).
int Filesystem::retarget_queued(const std::shared_ptr<Pending>& p, const std::string& staging,
                                stage::ClosedMark* queued, const std::string& old_key,
                                const std::string& new_key) {
  if (auto r = store_.remove(old_key); !r) return store::to_errno(r.error());
  BFS_CRASHPOINT("rename.old_removed");
  stage::ClosedMark mark = *queued;
  mark.key = new_key;
  mark.generation = pending_->next_generation();
  {
    auto lk = pending_->lock();
    p->attr.touch_meta();  // a rename changes ctime; the closed version's other attributes stay
    mark.meta["ctime"] = std::to_string(static_cast<long long>(p->attr.ctime.tv_sec));
  }
  if (int err = write_.staging->rewrite_mark(staging, mark)) {
    LOG_ERROR("rename of " << old_key << ": cannot rewrite its closed mark: " << std::strerror(err));
    return EIO;
  }
  BFS_CRASHPOINT("rename.marked");
  *queued = std::move(mark);
  return 0;
}

// Moves one pinned pending file from under `from` to under `to` (its upload
// already stopped by pin_pending). p->mu is taken here.
int Filesystem::move_pending(const std::shared_ptr<Pending>& p, const std::string& from, const std::string& to) {
  std::lock_guard plk(p->mu);
  std::string old_path, new_path;
  std::optional<Pending::Queued> q;
  {
    auto lk = pending_->lock();
    if (p->unlinked) return 0;
    old_path = p->path;
    new_path = to + old_path.substr(from.size());
    q = p->queued;
  }
  const std::string old_key = keys_.file_key(old_path), new_key = keys_.file_key(new_path);
  // A pending file at the destination is replaced: its upload stops first.
  auto replaced = find_pending(new_path);
  std::unique_lock<RankedMutex> rlk;  // only a rename holds two Pending locks (see the lock order)
  if (replaced && replaced != p) {
    rlk = std::unique_lock(replaced->mu);
    write_.uploader->cancel(new_key);
  }
  if (!q) {
    // Nothing closed is queued: what the bucket holds under the old name is
    // the file's last closed version (if any). It moves there.
    if (int err = move_object(old_key, new_key, true)) return err;
  } else if (int err = retarget_queued(p, q->path, &q->mark, old_key, new_key)) {
    (void)write_.uploader->submit({q->path, q->mark});  // the rename failed: its upload goes on
    return err;
  }
  std::vector<std::string> gone;
  {
    auto lk = pending_->lock();
    if (q) {
      p->queued = q;
      p->generation = std::max(p->generation, q->mark.generation);
    }
    if (auto displaced = pending_->move_locked(p, new_path)) {
      gone = files_of(*displaced);  // the queued closed version's file too
      displaced->unlinked = true;
      displaced->dirty = false;
      displaced->queued.reset();
      displaced->superseded.clear();
    }
  }
  // The replaced file's closed version must not come back after a power cut.
  if (!gone.empty()) {
    if (int err = write_.staging->remove_durably(gone))
      LOG_ERROR("rename over " << new_path << ": cannot remove the replaced file durably: " << std::strerror(err));
  }
  if (q) {
    if (auto r = write_.uploader->submit({q->path, q->mark}); !r) {
      LOG_ERROR("rename of " << old_path << ": " << r.error().message << "; it uploads at the next mount");
      return EIO;
    }
  }
  return 0;
}

void Filesystem::resume_pinned(const std::shared_ptr<Pending>& p) {
  std::lock_guard plk(p->mu);
  std::optional<Pending::Queued> q;
  {
    auto lk = pending_->lock();
    if (!p->unlinked) q = p->queued;
  }
  if (q) (void)write_.uploader->submit({q->path, q->mark});
}

int Filesystem::drop_replaced(const std::shared_ptr<Pending>& p) {
  std::lock_guard plk(p->mu);
  return forget_pending(p);
}

int Filesystem::setattr_pending(const std::shared_ptr<Pending>& p, const SetAttr& changes, Attr* out) {
  std::lock_guard plk(p->mu);
  bool idle;
  {
    // (An unlinked file is changed too, through its handles: never committed.)
    auto lk = pending_->lock();
    ++p->writers;  // pinned while we change it
    idle = p->writers == 1 && !p->unlinked;
  }
  const bool resize = changes.valid & SetAttr::kSize;
  int rc = 0;
  // With a writer open, a closed version's file is never changed in place
  // (its mark must keep describing it): any change forks, data or not.
  if (resize || !idle) rc = begin_change(p, resize ? changes.size : UINT64_MAX);
  if (resize && rc == 0) {
    uint64_t size_now;
    {
      auto lk = pending_->lock();
      size_now = p->attr.size;
    }
    if (changes.size > size_now) rc = write_.staging->check_space(changes.size - size_now);
    if (rc == 0 && ::ftruncate(p->fd, static_cast<off_t>(changes.size)) != 0) rc = errno;
    if (rc == 0) p->resized(changes.size);
  }
  bool same_bytes;
  {
    auto lk = pending_->lock();
    same_bytes = !resize && !p->dirty && p->current_marked();
    if (rc == 0) {
      if (resize) {
        p->attr.size = changes.size;
        p->attr.touch_data();
      }
      apply_changes(changes, &p->attr);
      // Metadata goes with the upload: any change means a new generation.
      if (!same_bytes) p->dirty = true;
    }
    *out = p->attr;
  }
  // With no writer open, nobody else will close it: commit now.
  if (idle && rc == 0) rc = same_bytes ? recommit_metadata(p) : commit(p, false);
  unpin(p);
  return rc;
}

}  // namespace bucketfs::fs
