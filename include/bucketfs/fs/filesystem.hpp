// filesystem.hpp - bucketfs's filesystem logic, independent of libfuse.
//
// A Filesystem maps a bucket (or a prefix of it) onto inodes: path <-> key
// mapping, attribute and directory caches with TTLs (negative entries too),
// open-file handles with a read prefetcher, and the namespace operations
// (mkdir, rmdir, unlink, rename, symlink, setattr). src/fuse/ is a thin adapter
// that turns each logic method's result into exactly one fuse reply, in the
// style of libfuse's passthrough_hp do_lookup().
//
// Errors: every logic method returns 0 or a positive errno; store errors are
// mapped by store::to_errno. Methods do not throw except std::bad_alloc (the
// adapter's guard turns anything else into EIO).
// Thread-safety: all methods may be called concurrently from FUSE workers.
// Lock order (acquire top to bottom, never upwards; each is a RankedMutex,
// util/ranked_mutex.hpp, so the sanitizer builds abort on a violation):
//   mutate_mu_          serializes namespace changes (held across store calls)
//   Pending::mu         one staged file's data changes, commits and namespace
//                       changes (held across staging I/O, the download into
//                       staging, Uploader::cancel/submit); a rename holds the
//                       moving file's and then the replaced file's, and only a
//                       rename (under mutate_mu_) ever holds two
//   FileHandle::mu      one open file's read state (held across store gets;
//                       a read replies from inside it, see read())
//   PendingRegistry::mu_  the pending files' map and state (leaf)
//   MetaCache, InodeTable, HandleTable, PrefetchBudget locks   leaves
// Uploader::cancel/submit are called under Pending::mu and take the
// uploader's locks (Job::record_mu, then Uploader::mu_), ranked between
// FileHandle::mu and PendingRegistry::mu_. PendingRegistry::mu_ is held around
// MetaCache's lock where a settled file's attributes go to the cache in the
// same step (on_upload_done); no two leaves are ever held at once. The
// Uploader's done handler (on_upload_done) runs with the job's record lock
// held and takes only the registry and leaves, so any caller may wait in
// Uploader::cancel.
// Ownership: the Filesystem borrows the ObjectStore, which must outlive it.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bucketfs/fs/caches.hpp"
#include "bucketfs/fs/handle_table.hpp"
#include "bucketfs/fs/inode_table.hpp"
#include "bucketfs/fs/key_mapper.hpp"
#include "bucketfs/fs/options.hpp"
#include "bucketfs/fs/prefetcher.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/store/object_store.hpp"
#include "bucketfs/upload/uploader.hpp"
#include "bucketfs/util/ranked_mutex.hpp"

namespace bucketfs::fs {

class PendingRegistry;
class DirLister;

// Where written data goes: the staging area that keeps it and the uploader
// that sends it (the staged write path's two collaborators).
// Without it (nullptr) the Filesystem is read-only for file contents
// (creating or writing a regular file is ENOTSUP).
struct WriteBackend {
  stage::StagingArea* staging = nullptr;
  upload::Uploader* uploader = nullptr;
  bool sync_upload = false;  // close (flush) waits for the upload and reports its result
};

// What a new object's owner is (the caller of mkdir/symlink/create).
struct Context {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t umask = 0;
};

// A lookup answer: the inode (its lookup count already incremented) and its
// attributes, with the kernel cache timeouts to use.
struct Entry {
  Ino ino = 0;
  struct stat attr {};
  double attr_timeout = 0;
  double entry_timeout = 0;
};

// Which attributes setattr changes (libfuse FUSE_SET_ATTR_* without libfuse).
struct SetAttr {
  enum : unsigned { kMode = 1, kUid = 2, kGid = 4, kSize = 8, kAtime = 16, kMtime = 32 };
  unsigned valid = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  struct timespec atime {};  // already resolved from UTIME_NOW by the adapter
  struct timespec mtime {};
};

// The I/O size stat reports (st_blksize), which cp, cat and dd without bs=
// size their buffers by: one whole FUSE write request (the FUSE layer asks
// the kernel for write requests this large), so a 1 GiB cp is 2,048 writes,
// not the 8,192 of a 4 KiB st_blksize (cp's 128 KiB minimum).
constexpr unsigned kIoBlockBytes = 512u << 10;

// One directory entry as readdir hands it out.
struct DirEntry {
  std::string name;
  struct stat attr {};       // st_ino is set; full attributes for readdirplus
  uint64_t next_offset = 0;  // the offset to resume after this entry
};

// Called by readdir for each entry in order; returns false when the reply
// buffer is full (that entry is then not counted as delivered).
using DirSink = std::function<bool(const DirEntry& e, double attr_timeout, double entry_timeout)>;

class Filesystem {
 public:
  // Errors: none (the store is not contacted until the first operation).
  // With a write backend, files the uploader already has pending (resumed at
  // mount) are shown from their staging files, and the uploader's done
  // handler is taken over (call before Uploader::start()); the uploader must
  // then be stopped before the Filesystem is destroyed.
  Filesystem(store::ObjectStore& store, Options opts, WriteBackend write = {});
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Attaches the write backend later (the daemon opens its checkpoint store
  // only after the fork). Call before requests are served.
  void attach_write_backend(WriteBackend write);

  const Options& options() const { return opts_; }
  store::ObjectStore& store() { return store_; }

  // --- inodes and attributes -------------------------------------------------
  // ENOENT, ENAMETOOLONG, EIO/EACCES/... from the store.
  int lookup(Ino parent, const std::string& name, Entry* out);
  // Drops nlookup references (FUSE forget); the inode goes at zero.
  void forget(Ino ino, uint64_t nlookup);
  int getattr(Ino ino, struct stat* out, double* attr_timeout);
  // chmod/chown/utimens: copy onto itself with replaced metadata (directory:
  // its marker, created if only implied). Size changes: ENOTSUP until the
  // write path exists (size == current size is accepted). EROFS when read-only.
  // fh: the open file the change came through (ftruncate), if any: a file
  // unlinked while open is changed through it.
  int setattr(Ino ino, const SetAttr& changes, struct stat* out, double* attr_timeout,
              const uint64_t* fh = nullptr);
  int readlink(Ino ino, std::string* target);
  int statfs(Ino ino, struct statvfs* out);

  // --- namespace -------------------------------------------------------------
  int mkdir(Ino parent, const std::string& name, mode_t mode, const Context& ctx, Entry* out);
  int rmdir(Ino parent, const std::string& name);   // ENOTEMPTY, ENOTDIR
  int unlink(Ino parent, const std::string& name);  // EISDIR for a directory
  int symlink(const std::string& target, Ino parent, const std::string& name, const Context& ctx, Entry* out);
  // flags: RENAME_NOREPLACE honoured (EEXIST); RENAME_EXCHANGE -> EINVAL.
  int rename(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name, unsigned flags);
  int link(Ino ino, Ino new_parent, const std::string& new_name);  // always EPERM
  // mknod: a regular file is staged like create (ENOTSUP without a write
  // path); a FIFO, socket or device is an empty object whose type and device
  // number are in its metadata, as s3fs stores them. EEXIST, ENAMETOOLONG,
  // EROFS. create opens the new regular file for writing.
  int mknod(Ino parent, const std::string& name, mode_t mode, dev_t rdev, const Context& ctx, Entry* out);
  int create(Ino parent, const std::string& name, mode_t mode, int flags, const Context& ctx, Entry* out,
             uint64_t* fh);

  // --- open files ------------------------------------------------------------
  // Opens for reading or writing. Writing stages the file: an existing object
  // opened without O_TRUNC is first brought into staging; a file pending
  // upload starts a new write generation (its upload is cancelled). EISDIR,
  // EROFS, ENOSPC (staging full), errors of the download.
  int open(Ino ino, int flags, uint64_t* fh);
  // Fills *out with up to size bytes at offset (fewer only at EOF).
  int read(uint64_t fh, uint64_t offset, size_t size, std::string* out);
  // The same, handing the bytes to deliver (once, only on success) without a
  // copy when the prefetch window holds them; deliver runs under the file's
  // read lock and must not call back into the Filesystem.
  int read(uint64_t fh, uint64_t offset, size_t size, const ReadSink& deliver);
  int write(uint64_t fh, uint64_t offset, const char* data, size_t size, size_t* written);
  // Writes `size` bytes of a request into the staged file's descriptor at
  // off: all of them (0) or an errno. The FUSE layer's source splices them
  // from the kernel's pipe, so they reach the page cache without passing
  // through a user-space buffer.
  using WriteSource = std::function<int(int fd, uint64_t off, size_t size)>;
  // write() with the bytes from source; the same checks, versions and upload.
  int write(uint64_t fh, uint64_t offset, size_t size, const WriteSource& source, size_t* written);
  // flush (every close(2)): when the last writer closes a changed file, fsync
  // the staging file and commit its checkpoint record; the upload then runs in
  // the background (with sync_upload, flush waits for it: EIO on failure).
  // fsync also waits until the object is complete in the bucket (EIO if not).
  int flush(uint64_t fh);
  int fsync(uint64_t fh, bool datasync);
  int release(uint64_t fh);
  // fsync of a directory: every namespace change made so far (creations,
  // unlinks, renames of pending files) and every checkpoint commit is durable.
  int fsyncdir(Ino ino);

  // --- directories -----------------------------------------------------------
  // opendir snapshots the listing (from the directory cache when fresh).
  int opendir(Ino ino, uint64_t* fh);
  // Emits entries from offset ("." and ".." first). With plus, each entry the
  // sink accepts counts as one lookup of its inode (as readdirplus requires).
  int readdir(uint64_t fh, uint64_t offset, bool plus, const DirSink& sink);
  int releasedir(uint64_t fh);

  // Internal to src/fs (pending.hpp, filesystem.cpp); named here for the
  // registry and the handle tables.
  struct FileHandle;
  struct DirHandle;
  struct Pending;
  struct LocalCopy;

 private:
  // --- write path (write_path.cpp, pending_ops.cpp) ---
  std::shared_ptr<Pending> find_pending(const std::string& path) const;
  int stage_for_write(const std::string& path, const Attr& a, bool truncate, std::shared_ptr<Pending>* out);
  int open_for_write(const std::string& path, const Attr& a, int flags, std::shared_ptr<Pending>* out);
  // Before changing a pending file's data (pf->mu held): a staging file that
  // carries a closed mark is never changed, so the change goes to a fork
  // holding its first keep_bytes bytes.
  int begin_change(const std::shared_ptr<Pending>& p, uint64_t keep_bytes = UINT64_MAX);
  // Closes the current version (pf->mu held): data and mark durable, then queued.
  int commit(const std::shared_ptr<Pending>& p, bool still_open);
  void send_finished_parts(const std::shared_ptr<Pending>& p, uint64_t before, uint64_t after);
  // Same bytes, new metadata (pf->mu held, the current file is queued): a new
  // generation of the same file.
  int recommit_metadata(const std::shared_ptr<Pending>& p);
  void on_upload_done(const upload::UploadOutcome& o);
  void add_pending_entries(const std::string& dir, std::shared_ptr<const DirListing>* listing);
  int unlink_pending(const std::string& path);
  // Rename of pending files: pin_pending stops the uploads of every pending
  // file at or under `from` (nothing lands under the old names while the
  // bucket's objects move); settle_renamed then moves each to its new name.
  std::vector<std::shared_ptr<Pending>> pin_pending(const std::string& from);
  int settle_renamed(const std::vector<std::shared_ptr<Pending>>& pinned, const std::string& from,
                     const std::string& to);
  int move_pending(const std::shared_ptr<Pending>& p, const std::string& from, const std::string& to);
  // The closed version in `staging` (its mark *mark) goes to new_key: the
  // bucket's object under old_key goes, the mark is rewritten durably.
  int retarget_queued(const std::shared_ptr<Pending>& p, const std::string& staging, stage::ClosedMark* mark,
                      const std::string& old_key, const std::string& new_key);
  void unpin(const std::shared_ptr<Pending>& p);
  // A pinned file's upload starts again (the operation that stopped it failed).
  void resume_pinned(const std::shared_ptr<Pending>& p);
  // A pinned file replaced by a rename: gone from the registry, its staging
  // files removed durably.
  int drop_replaced(const std::shared_ptr<Pending>& p);
  // p->mu held: p leaves the registry for good; its staging files go durably.
  int forget_pending(const std::shared_ptr<Pending>& p);
  int setattr_pending(const std::shared_ptr<Pending>& p, const SetAttr& changes, Attr* out);
  std::string path_of_key(const std::string& key) const;

  // Resolves an inode to its mount-relative path ("" for the root); ENOENT/ESTALE.
  int path_of(Ino ino, std::string* path) const;
  int child_path(Ino parent, const std::string& name, std::string* path) const;
  // Attributes of a mount-relative path, from the caches or the store.
  int stat_path(const std::string& path, Attr* out);
  // 0 when nothing is at path (a name to create), EEXIST, or the lookup's errno.
  int check_absent(const std::string& path);
  int stat_path_uncached(const std::string& path, Attr* out);
  int fill_entry(const std::string& path, const Attr& a, Entry* out);
  int is_dir_empty(const std::string& path, bool* empty);
  int head_meta(const std::string& key, store::ObjectInfo* out, bool* found);
  int put_marker(const std::string& path, const Attr& a);
  int rename_tree(const std::string& from, const std::string& to, bool dst_exists, const Attr& dst);
  int setattr_object(const std::string& path, const SetAttr& changes, Attr* a);
  int rename_object(const std::string& from, const std::string& to);
  // Before an object is deleted: its open read handles get a private local
  // copy, so an unlinked file stays readable until its last close (POSIX).
  void keep_open_readers(const std::string& path);
  // Attributes of an inode no path leads to any more (unlinked while open),
  // from an open handle of it; ENOENT if there is none.
  int attr_of_open(Ino ino, Attr* out);
  // A read through h: the access time moves by the relatime rule.
  void note_access(FileHandle& h);
  // Server-side copy of one object for a rename: its metadata with ctime now.
  int copy_renamed(const std::string& from_key, const std::string& to_key);
  // Server-side rename of one object (copy, then delete); missing_ok: nothing
  // under from_key is success.
  int move_object(const std::string& from_key, const std::string& to_key, bool missing_ok);
  // Moves the objects under from/ to to/, except the keys in `skip` (the
  // pending files, which settle_renamed moves).
  int rename_dir(const std::string& from, const std::string& to, const std::set<std::string>& skip);
  Attr new_object_attr(mode_t mode, const Context& ctx, uint64_t size) const;
  int make_special(Ino parent, const std::string& name, mode_t mode, dev_t rdev, const Context& ctx, Entry* out);
  // The attribute changes of a setattr (mode, owner, times) on a; ctime moves.
  static void apply_changes(const SetAttr& changes, Attr* a);
  struct stat to_stat(Ino ino, const Attr& a) const;

  store::ObjectStore& store_;
  const Options opts_;
  const KeyMapper keys_;
  InodeTable table_;
  MetaCache cache_;
  AtimeTable atimes_;
  PrefetchBudget budget_;
  const std::time_t mount_time_;

  RankedMutex mutate_mu_{LockRank::FsMutate};  // first in the lock order (see the file header)

  WriteBackend write_;
  // Files written and not yet confirmed in the bucket (pending_registry.hpp).
  std::unique_ptr<PendingRegistry> pending_;
  // Directory listings, their streams and metadata HEADs (dir_lister.hpp).
  std::unique_ptr<DirLister> lister_;
  HandleTable<FileHandle> files_;
  HandleTable<DirHandle> dirs_;
};

}  // namespace bucketfs::fs
