// namespace_ops.cpp - the operations that change the bucket's namespace:
// mkdir, rmdir, unlink, rename, symlink, setattr (chmod/chown/utimens).
//
// Every change holds mutate_mu_ for its whole duration (store calls included),
// so two changes never interleave their copies and deletes; reads do not take
// it. Copies happen before deletes, so a failure half-way leaves data in both
// places, never in neither. Each change invalidates the caches it touched.
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE

#include <cerrno>
#include <set>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/fs/metadata.hpp"
#include "bucketfs/util/log.hpp"
#include "bucketfs/util/time.hpp"
#include "pending.hpp"
#include "pending_registry.hpp"

namespace bucketfs::fs {

using timefmt::now_ts;
namespace {
constexpr const char* kDirContentType = "application/x-directory";
constexpr size_t kMaxSymlinkTarget = 4095;  // PATH_MAX - 1

}  // namespace

Attr Filesystem::new_object_attr(mode_t mode, const Context& ctx, uint64_t size) const {
  Attr a;
  a.exists = true;
  a.mode = mode;
  a.uid = ctx.uid;
  a.gid = ctx.gid;
  a.size = size;
  a.mtime = now_ts();
  a.mtime.tv_nsec = 0;  // s3fs metadata holds whole seconds
  a.has_meta = true;
  return a;
}

void Filesystem::apply_changes(const SetAttr& changes, Attr* a) {
  if (changes.valid & SetAttr::kMode) a->mode = (a->mode & S_IFMT) | (changes.mode & 07777);
  if (changes.valid & SetAttr::kUid) a->uid = changes.uid;
  if (changes.valid & SetAttr::kGid) a->gid = changes.gid;
  if (changes.valid & SetAttr::kMtime) a->mtime = changes.mtime;
  if (changes.valid & SetAttr::kAtime) a->atime = changes.atime;
  if (changes.valid & (SetAttr::kMode | SetAttr::kUid | SetAttr::kGid | SetAttr::kMtime | SetAttr::kAtime))
    a->touch_meta();
}

int Filesystem::check_absent(const std::string& path) {
  Attr existing;
  int rc = stat_path(path, &existing);
  if (rc == 0) return EEXIST;
  return rc == ENOENT ? 0 : rc;
}

int Filesystem::make_special(Ino parent, const std::string& name, mode_t mode, dev_t rdev, const Context& ctx,
                             Entry* out) {
  const mode_t type = mode & S_IFMT;
  if (type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR && type != S_IFBLK) return EINVAL;
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  if (int rc = check_absent(path)) return rc;
  // As s3fs stores them: an empty object, the type in "mode", the device in "rdev".
  Attr a = new_object_attr(type | (mode & ~ctx.umask & 07777), ctx, 0);
  if (type == S_IFCHR || type == S_IFBLK) a.rdev = rdev;
  store::PutOptions po;
  po.meta = to_metadata(a);
  auto r = store_.put_bytes(keys_.file_key(path), "", po);
  cache_.invalidate(path);
  if (!r) return store::to_errno(r.error());
  a.etag = r.value();
  cache_.note_entry(path, a);
  return fill_entry(path, a, out);
}

int Filesystem::put_marker(const std::string& path, const Attr& a) {
  store::PutOptions po;
  po.meta = to_metadata(a);
  po.content_type = kDirContentType;
  auto r = store_.put_bytes(keys_.dir_key(path), "", po);
  return r ? 0 : store::to_errno(r.error());
}

int Filesystem::is_dir_empty(const std::string& path, bool* empty) {
  const std::string dkey = keys_.dir_key(path);
  store::ListRequest req;
  req.prefix = dkey;
  req.max_keys = 2;  // the marker itself and one more
  auto page = store_.list(req);
  if (!page) return store::to_errno(page.error());
  *empty = true;
  for (const auto& o : page->objects)
    if (o.key != dkey) *empty = false;
  if (!page->common_prefixes.empty()) *empty = false;
  return 0;
}

int Filesystem::mkdir(Ino parent, const std::string& name, mode_t mode, const Context& ctx, Entry* out) {
  if (opts_.read_only) return EROFS;
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  if (int rc = check_absent(path)) return rc;
  Attr a = new_object_attr(S_IFDIR | (mode & ~ctx.umask & 07777), ctx, 0);
  a.has_marker = true;
  if (int prc = put_marker(path, a)) return prc;
  cache_.invalidate_tree(path);
  // A directory this mount just made is empty: lookups in it (cp -r creating
  // files there) need no request until its listing expires.
  cache_.put_dir(path, std::make_shared<DirListing>());
  cache_.note_entry(path, a);
  return fill_entry(path, a, out);
}

int Filesystem::rmdir(Ino parent, const std::string& name) {
  if (opts_.read_only) return EROFS;
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  cache_.invalidate(path);  // decide on fresh facts
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  if (!a.is_dir()) return ENOTDIR;
  if (pending_->has_children(path)) return ENOTEMPTY;
  bool empty = false;
  if (int rc = is_dir_empty(path, &empty)) return rc;
  if (!empty) return ENOTEMPTY;
  auto r = store_.remove(keys_.dir_key(path));
  cache_.invalidate_tree(path);
  if (!r) return store::to_errno(r.error());
  table_.detach(path);
  return 0;
}

int Filesystem::unlink(Ino parent, const std::string& name) {
  if (opts_.read_only) return EROFS;
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  if (a.is_dir()) return EISDIR;
  // A staged file: its upload stops, the bucket's object and its staging
  // files go (pending_ops.cpp). Otherwise the object alone.
  if (write_.uploader && find_pending(path)) {
    int rc = unlink_pending(path);
    cache_.invalidate(path);
    if (rc == 0) table_.detach(path);
    if (rc != ENOENT) return rc;  // ENOENT: it stopped being pending meanwhile
  }
  keep_open_readers(path);  // POSIX: an unlinked file stays readable through its open descriptors
  auto r = store_.remove(keys_.file_key(path));
  cache_.invalidate(path);
  if (!r) return store::to_errno(r.error());
  atimes_.erase(path);
  table_.detach(path);
  return 0;
}

void Filesystem::keep_open_readers(const std::string& path) {
  const Ino ino = table_.find(path);
  if (!ino || !write_.staging) return;
  auto readers = files_.select([ino](const FileHandle& h) { return h.ino == ino && h.reader && !h.local; });
  if (readers.empty()) return;
  // A private copy, never uploaded: a staging file without a name (removed
  // at once, its descriptor kept), read by the handles until they close.
  auto staged = write_.staging->create();
  if (!staged) {
    LOG_WARN("unlink of " << path << ": no room for the copy its open readers need; they will get ENOENT");
    return;
  }
  write_.staging->remove(staged->path);
  uint64_t off = 0;
  int werr = 0;
  auto got = store_.get(keys_.file_key(path), 0, 0, [&](const char* d, size_t n) {
    werr = write_.staging->check_space(n);
    if (werr == 0) werr = pwrite_full(staged->fd.get(), d, n, off);
    off += n;
    return werr == 0;
  });
  if (!got || werr != 0) {
    LOG_WARN("unlink of " << path << ": cannot copy it for its open readers; they will get ENOENT");
    return;
  }
  auto copy = std::make_shared<LocalCopy>(LocalCopy{std::move(staged->fd), off});
  for (auto& h : readers) {
    std::lock_guard hl(h->mu);
    h->local = copy;
  }
}

int Filesystem::symlink(const std::string& target, Ino parent, const std::string& name, const Context& ctx,
                        Entry* out) {
  if (opts_.read_only) return EROFS;
  if (target.empty()) return ENOENT;
  if (target.size() > kMaxSymlinkTarget) return ENAMETOOLONG;
  std::string path;
  if (int rc = child_path(parent, name, &path)) return rc;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  if (int rc = check_absent(path)) return rc;
  // s3fs: the body is the target, the mode S_IFLNK|0777 in the metadata.
  Attr a = new_object_attr(S_IFLNK | 0777, ctx, target.size());
  store::PutOptions po;
  po.meta = to_metadata(a);
  auto r = store_.put_bytes(keys_.file_key(path), target, po);
  cache_.invalidate(path);
  if (!r) return store::to_errno(r.error());
  a.etag = r.value();
  cache_.put_attr(path, a);
  return fill_entry(path, a, out);
}

int Filesystem::readlink(Ino ino, std::string* target) {
  std::string path;
  if (int rc = path_of(ino, &path)) return rc;
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  if (!a.is_symlink()) return EINVAL;
  target->clear();
  auto got = store_.get(keys_.file_key(path), 0, kMaxSymlinkTarget + 1, [target](const char* d, size_t n) {
    target->append(d, n);
    return true;
  });
  if (!got) return store::to_errno(got.error());
  if (target->size() > kMaxSymlinkTarget) return ENAMETOOLONG;
  return 0;
}

int Filesystem::link(Ino, Ino, const std::string&) { return EPERM; }

int Filesystem::setattr(Ino ino, const SetAttr& changes, struct stat* out, double* attr_timeout,
                        const uint64_t* fh) {
  std::string path;
  if (int rc = path_of(ino, &path)) {
    // Unlinked while open: the change goes to the staged file behind the handle.
    auto h = fh ? files_.get(*fh) : nullptr;
    if (!h || !h->pending || opts_.read_only) return rc;
    Attr now;
    if (int prc = setattr_pending(h->pending, changes, &now)) return prc;
    *out = to_stat(ino, now);
    *attr_timeout = 0;
    return 0;
  }
  const unsigned meta_bits = SetAttr::kMode | SetAttr::kUid | SetAttr::kGid | SetAttr::kMtime | SetAttr::kAtime;
  if (opts_.read_only && (changes.valid & (meta_bits | SetAttr::kSize))) return EROFS;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  cache_.invalidate(path);
  Attr a;
  if (int rc = stat_path(path, &a)) return rc;
  const bool resize = (changes.valid & SetAttr::kSize) && changes.size != a.size;
  if (resize && a.is_dir()) return EISDIR;
  if (resize && !a.is_regular()) return EINVAL;
  auto staged = write_.uploader ? find_pending(path) : nullptr;
  if (!staged && resize) {
    // truncate(2) of an object: stage it (only the bytes that stay), then change it there.
    if (!write_.uploader) return ENOTSUP;
    if (int rc = open_for_write(path, a, changes.size == 0 ? O_TRUNC : 0, &staged)) return rc;
    auto lk = pending_->lock();
    --staged->writers;  // open_for_write pinned it; setattr_pending pins it again
  }
  if (staged) {
    Attr now;
    if (int rc = setattr_pending(staged, changes, &now)) return rc;
    *out = to_stat(ino, now);
    *attr_timeout = opts_.stat_ttl;
    return 0;
  }
  if (changes.valid & meta_bits) {
    if (int rc = setattr_object(path, changes, &a)) return rc;
  }
  *out = to_stat(ino, a);
  *attr_timeout = opts_.stat_ttl;
  return 0;
}

// chmod/chown/utimens of an object in the bucket (or a directory): a copy
// onto itself with the metadata replaced; a directory only implied by its
// children gets a marker to hold them. *a: the path's attributes, updated.
int Filesystem::setattr_object(const std::string& path, const SetAttr& changes, Attr* a_out) {
  Attr& a = *a_out;
  if (path.empty() && keys_.prefix().empty()) return EPERM;  // a bucket's root has no object
  const std::string key = a.is_dir() ? keys_.dir_key(path) : keys_.file_key(path);
  store::ObjectInfo info;
  bool found = false;
  if (int rc = head_meta(key, &info, &found)) return rc;
  if (!found && !a.is_dir()) {
    cache_.invalidate(path);
    return ENOENT;
  }
  // The object's own attributes, not a listing's defaults, are what change.
  if (found) a = a.is_dir() ? dir_attr(&info, opts_, mount_time_) : file_attr_from_head(info, opts_);
  atimes_.apply(path, &a);  // reads' access times go with this change
  apply_changes(changes, &a);
  if (!found) {
    // An implied directory: its attributes need a marker to live in.
    a.has_marker = true;
    if (int rc = put_marker(path, a)) return rc;
  } else {
    store::PutOptions po;
    po.meta = to_metadata(a, info.meta);
    po.content_type = info.content_type;
    auto r = store_.copy(key, key, po);
    if (!r) return store::to_errno(r.error());
  }
  cache_.invalidate(path);
  cache_.put_attr(path, a);
  return 0;
}

// --- rename ------------------------------------------------------------------

int Filesystem::copy_renamed(const std::string& from_key, const std::string& to_key) {
  // The metadata travels with the copy; a rename changes ctime (as s3fs does).
  auto h = store_.head(from_key);
  if (!h) return store::to_errno(h.error());
  store::PutOptions po;
  po.meta = h->meta;
  po.meta["ctime"] = std::to_string(static_cast<long long>(now_ts().tv_sec));
  po.content_type = h->content_type;
  auto c = store_.copy(from_key, to_key, po);
  return c ? 0 : store::to_errno(c.error());
}

int Filesystem::move_object(const std::string& from_key, const std::string& to_key, bool missing_ok) {
  if (int err = copy_renamed(from_key, to_key)) return err == ENOENT && missing_ok ? 0 : err;
  auto r = store_.remove(from_key);
  return r ? 0 : store::to_errno(r.error());
}

int Filesystem::rename_dir(const std::string& from, const std::string& to, const std::set<std::string>& skip) {
  const std::string src = keys_.dir_key(from);
  const std::string dst = keys_.dir_key(to);
  store::ListRequest req;
  req.prefix = src;
  req.max_keys = opts_.list_page_size;
  std::vector<std::string> keys;
  for (;;) {
    auto page = store_.list(req);
    if (!page) return store::to_errno(page.error());
    for (const auto& o : page->objects)
      if (!skip.count(o.key)) keys.push_back(o.key);
    if (!next_page(*page, &req)) break;
  }
  // Check every new key before moving anything.
  for (const auto& k : keys)
    if (int rc = KeyMapper::check_key(dst + k.substr(src.size()))) return rc;
  for (const auto& k : keys) {
    auto c = store_.copy(k, dst + k.substr(src.size()), std::nullopt);
    if (!c) return store::to_errno(c.error());
  }
  for (const auto& k : keys) {
    auto r = store_.remove(k);
    if (!r) return store::to_errno(r.error());
  }
  return 0;
}

// A directory: its pending files stop uploading first, so none lands under
// the old name while the objects are copied; they move last, from staging.
int Filesystem::rename_tree(const std::string& from, const std::string& to, bool dst_exists, const Attr& dst) {
  if (KeyMapper::is_under(to, from)) return EINVAL;
  if (dst_exists) {
    if (!dst.is_dir()) return ENOTDIR;
    bool empty = false;
    if (int erc = is_dir_empty(to, &empty)) return erc;
    if (!empty) return ENOTEMPTY;
    auto r = store_.remove(keys_.dir_key(to));
    if (!r) return store::to_errno(r.error());
  }
  std::vector<std::shared_ptr<Pending>> pinned;
  std::set<std::string> skip;
  if (write_.uploader) {
    pinned = pin_pending(from);
    for (const auto& p : pinned) skip.insert(keys_.file_key(p->path));
  }
  int rc = rename_dir(from, to, skip);
  int prc = pinned.empty() ? 0 : settle_renamed(pinned, from, to);
  return rc != 0 ? rc : prc;
}

// An object (not pending). A staged file at the destination is replaced:
// its upload stops before the copy and its files go after it, so a crash in
// between leaves either name as it was or as it is after the rename.
int Filesystem::rename_object(const std::string& from, const std::string& to) {
  std::vector<std::shared_ptr<Pending>> replaced;
  if (write_.uploader && find_pending(to)) replaced = pin_pending(to);
  int rc = copy_renamed(keys_.file_key(from), keys_.file_key(to));
  for (const auto& p : replaced) {
    if (rc == 0)
      rc = drop_replaced(p);
    else
      resume_pinned(p);
    unpin(p);
  }
  if (rc != 0) return rc;
  auto r = store_.remove(keys_.file_key(from));
  return r ? 0 : store::to_errno(r.error());
}

int Filesystem::rename(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name,
                       unsigned flags) {
  if (opts_.read_only) return EROFS;
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return EINVAL;  // no RENAME_EXCHANGE on a bucket
  std::string from, to;
  if (int rc = child_path(parent, name, &from)) return rc;
  if (int rc = child_path(new_parent, new_name, &to)) return rc;
  std::lock_guard<RankedMutex> lk(mutate_mu_);
  cache_.invalidate(from);
  cache_.invalidate(to);
  Attr src;
  if (int rc = stat_path(from, &src)) return rc;
  if (from == to) return 0;
  Attr dst;
  int drc = stat_path(to, &dst);
  if (drc != 0 && drc != ENOENT) return drc;
  const bool dst_exists = drc == 0;
  if (dst_exists && (flags & RENAME_NOREPLACE)) return EEXIST;
  if (dst_exists && dst.is_dir() && !src.is_dir()) return EISDIR;

  int rc;
  if (src.is_dir())
    rc = rename_tree(from, to, dst_exists, dst);
  else {
    std::vector<std::shared_ptr<Pending>> pinned;
    if (write_.uploader && find_pending(from)) pinned = pin_pending(from);
    // The staged file moves (pending_ops.cpp), or the object in the bucket
    // does: also when its upload was confirmed since find_pending.
    rc = pinned.empty() ? rename_object(from, to) : settle_renamed(pinned, from, to);
  }
  cache_.invalidate_tree(from);
  cache_.invalidate_tree(to);
  if (rc == 0) {
    table_.rename(from, to);
    atimes_.rename(from, to);
  }
  return rc;
}

}  // namespace bucketfs::fs
