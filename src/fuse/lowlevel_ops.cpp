// lowlevel_ops.cpp - the thin libfuse3 low-level adapter over fs::Filesystem.
//
// Each callback: one guard, one call into fs/, one reply built from its
// errno and outputs. Nothing here holds a lock or talks to the network; the
// fs/ methods do that, and every reply is sent after they return, except
// read's: Filesystem::read hands the bytes to the reply from inside, under
// the file's read lock, so the prefetch window is not copied first. (A
// write's bytes are likewise spliced from the request inside
// Filesystem::write; its reply still comes after.)
#include "lowlevel_ops.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <ctime>
#include <new>
#include <string>
#include <vector>

#include "bucketfs/fs/filesystem.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::fusefs {
namespace {

SessionState& state(fuse_req_t req) { return *static_cast<SessionState*>(fuse_req_userdata(req)); }
fs::Filesystem& filesystem(fuse_req_t req) { return *state(req).fs; }

// Runs body; if it throws before replying, replies with an error instead.
// body must send its reply as its last action (replies do not throw).
template <class F>
void guarded(fuse_req_t req, const char* op, F&& body, bool replies = true) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    LOG_ERROR(op << ": out of memory");
    if (replies) fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    LOG_ERROR(op << ": unexpected error: " << e.what());
    if (replies) fuse_reply_err(req, EIO);
  } catch (...) {
    LOG_ERROR(op << ": unexpected error");
    if (replies) fuse_reply_err(req, EIO);
  }
}

fs::Context context(fuse_req_t req) {
  const fuse_ctx* c = fuse_req_ctx(req);
  fs::Context ctx;
  ctx.uid = c->uid;
  ctx.gid = c->gid;
  ctx.umask = c->umask;
  return ctx;
}

fuse_entry_param to_param(const fs::Entry& e) {
  fuse_entry_param p{};
  p.ino = e.ino;
  p.generation = 1;
  p.attr = e.attr;
  p.attr_timeout = e.attr_timeout;
  p.entry_timeout = e.entry_timeout;
  return p;
}

void reply_entry(fuse_req_t req, int rc, const fs::Entry& e) {
  if (rc) {
    fuse_reply_err(req, rc);
    return;
  }
  fuse_entry_param p = to_param(e);
  fuse_reply_entry(req, &p);
}

// --- callbacks -----------------------------------------------------------------

void op_init(void*, fuse_conn_info* conn) {
  // Always readdirplus: the listing already carries the attributes.
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // No writeback cache. Writes arrive by splice (libfuse asks for
  // FUSE_CAP_SPLICE_READ because write_buf is set; see op_write_buf); replies
  // to reads are not spliced: their bytes are in the prefetcher's memory.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // 1 MiB read-ahead (the kernel's FUSE_MAX_MAX_PAGES): an eighth of the
  // requests of the 128 KiB default for every cp out of the mount (once
  // serve() raised the device's read-ahead too); 512 KiB writes (see
  // kMaxWriteBytes).
  conn->max_write = kMaxWriteBytes;
  conn->max_readahead = kMaxReadBytes;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    fs::Entry e;
    int rc = filesystem(req).lookup(parent, name, &e);
    double ttl = filesystem(req).options().stat_ttl;
    if (rc == ENOENT && ttl > 0) {
      // A negative entry: the kernel remembers the absence for stat_ttl.
      fuse_entry_param p{};
      p.ino = 0;
      p.entry_timeout = ttl;
      fuse_reply_entry(req, &p);
      return;
    }
    reply_entry(req, rc, e);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  guarded(
      req, "forget", [&] { filesystem(req).forget(ino, nlookup); }, false);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  guarded(
      req, "forget_multi",
      [&] {
        for (size_t i = 0; i < count; ++i) filesystem(req).forget(forgets[i].ino, forgets[i].nlookup);
      },
      false);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, "getattr", [&] {
    struct stat st {};
    double ttl = 0;
    int rc = filesystem(req).getattr(ino, &st, &ttl);
    if (rc)
      fuse_reply_err(req, rc);
    else
      fuse_reply_attr(req, &st, ttl);
  });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  guarded(req, "setattr", [&] {
    fs::SetAttr ch;
    struct timespec now {};
    clock_gettime(CLOCK_REALTIME, &now);
    if (to_set & FUSE_SET_ATTR_MODE) ch.valid |= fs::SetAttr::kMode, ch.mode = attr->st_mode;
    if (to_set & FUSE_SET_ATTR_UID) ch.valid |= fs::SetAttr::kUid, ch.uid = attr->st_uid;
    if (to_set & FUSE_SET_ATTR_GID) ch.valid |= fs::SetAttr::kGid, ch.gid = attr->st_gid;
    if (to_set & FUSE_SET_ATTR_SIZE)
      ch.valid |= fs::SetAttr::kSize, ch.size = static_cast<uint64_t>(attr->st_size);
    if (to_set & FUSE_SET_ATTR_ATIME)
      ch.valid |= fs::SetAttr::kAtime, ch.atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : attr->st_atim;
    if (to_set & FUSE_SET_ATTR_MTIME)
      ch.valid |= fs::SetAttr::kMtime, ch.mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : attr->st_mtim;
    if (state(req).read_only && (ch.valid & ~fs::SetAttr::kAtime)) {
      fuse_reply_err(req, EROFS);
      return;
    }
    struct stat st {};
    double ttl = 0;
    // fi: an ftruncate, which must work on a file unlinked while open
    int rc = filesystem(req).setattr(ino, ch, &st, &ttl, fi ? &fi->fh : nullptr);
    if (rc)
      fuse_reply_err(req, rc);
    else
      fuse_reply_attr(req, &st, ttl);
  });
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  guarded(req, "readlink", [&] {
    std::string target;
    int rc = filesystem(req).readlink(ino, &target);
    if (rc)
      fuse_reply_err(req, rc);
    else
      fuse_reply_readlink(req, target.c_str());
  });
}

// Mutating callbacks start here: each answers EROFS on a read-only mount.
#define BFS_DENY_IF_READ_ONLY(req) \
  if (state(req).read_only) {      \
    fuse_reply_err((req), EROFS);  \
    return;                        \
  }

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  guarded(req, "mknod", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fs::Entry e;
    reply_entry(req, filesystem(req).mknod(parent, name, mode, rdev, context(req), &e), e);
  });
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  guarded(req, "mkdir", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fs::Entry e;
    reply_entry(req, filesystem(req).mkdir(parent, name, mode, context(req), &e), e);
  });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "unlink", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fuse_reply_err(req, filesystem(req).unlink(parent, name));
  });
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "rmdir", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fuse_reply_err(req, filesystem(req).rmdir(parent, name));
  });
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  guarded(req, "symlink", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fs::Entry e;
    reply_entry(req, filesystem(req).symlink(link, parent, name, context(req), &e), e);
  });
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  guarded(req, "rename", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fuse_reply_err(req, filesystem(req).rename(parent, name, newparent, newname, flags));
  });
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  guarded(req, "link", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fuse_reply_err(req, filesystem(req).link(ino, newparent, newname));
  });
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  guarded(req, "create", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    fs::Entry e;
    uint64_t fh = 0;
    int rc = filesystem(req).create(parent, name, mode, fi->flags, context(req), &e, &fh);
    if (rc) {
      fuse_reply_err(req, rc);
      return;
    }
    fi->fh = fh;
    fuse_entry_param p = to_param(e);
    fuse_reply_create(req, &p, fi);
  });
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    if (state(req).read_only && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
      fuse_reply_err(req, EROFS);
      return;
    }
    uint64_t fh = 0;
    int rc = filesystem(req).open(ino, fi->flags, &fh);
    if (rc) {
      fuse_reply_err(req, rc);
      return;
    }
    fi->fh = fh;
    // The kernel's page cache may keep pages across opens only within
    // stat_ttl; reopening after a change elsewhere must show new bytes.
    fi->keep_cache = 0;
    fuse_reply_open(req, fi);
  });
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "read", [&] {
    // The reply is sent from inside the read, straight from the prefetch
    // window; only an error is answered here.
    int rc = filesystem(req).read(fi->fh, static_cast<uint64_t>(off), size,
                                  [req](const char* data, size_t n) { fuse_reply_buf(req, data, n); });
    if (rc) fuse_reply_err(req, rc);
  });
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "write", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    size_t written = 0;
    int rc = filesystem(req).write(fi->fh, static_cast<uint64_t>(off), buf, size, &written);
    if (rc)
      fuse_reply_err(req, rc);
    else
      fuse_reply_write(req, written);
  });
}

// Writes with the request's bytes in libfuse's buffer: in a pipe when libfuse
// spliced the request from /dev/fuse (FUSE_CAP_SPLICE_READ), which then go
// into the staged file by splice, one copy fewer than read + pwrite; in
// memory otherwise (small requests, or a pipe that could not grow to a whole
// request: fs.pipe-max-size for users without CAP_SYS_RESOURCE).
void op_write_buf(fuse_req_t req, fuse_ino_t, fuse_bufvec* bufv, off_t off, fuse_file_info* fi) {
  guarded(req, "write", [&] {
    BFS_DENY_IF_READ_ONLY(req);
    // Whatever is not consumed (an error before or during the copy) libfuse
    // drains from the pipe after we return: bufv->idx tells it.
    auto from_request = [bufv](int fd, uint64_t at, size_t n) -> int {
      size_t done = 0;
      while (done < n) {
        fuse_bufvec dst = FUSE_BUFVEC_INIT(n - done);
        dst.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY);
        dst.buf[0].fd = fd;
        dst.buf[0].pos = static_cast<off_t>(at + done);
        ssize_t r = fuse_buf_copy(&dst, bufv, static_cast<fuse_buf_copy_flags>(0));
        if (r < 0) return static_cast<int>(-r);
        if (r == 0) return EIO;  // the request holds fewer bytes than it says
        done += static_cast<size_t>(r);
      }
      return 0;
    };
    size_t written = 0;
    int rc =
        filesystem(req).write(fi->fh, static_cast<uint64_t>(off), fuse_buf_size(bufv), from_request, &written);
    if (rc)
      fuse_reply_err(req, rc);
    else
      fuse_reply_write(req, written);
  });
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  guarded(req, "flush", [&] { fuse_reply_err(req, filesystem(req).flush(fi->fh)); });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  guarded(req, "release", [&] { fuse_reply_err(req, filesystem(req).release(fi->fh)); });
}

void op_fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  guarded(req, "fsync", [&] { fuse_reply_err(req, filesystem(req).fsync(fi->fh, datasync != 0)); });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "opendir", [&] {
    uint64_t fh = 0;
    int rc = filesystem(req).opendir(ino, &fh);
    if (rc) {
      fuse_reply_err(req, rc);
      return;
    }
    fi->fh = fh;
    fuse_reply_open(req, fi);
  });
}

void do_readdir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  std::vector<char> buf(size);
  size_t used = 0;
  int rc = filesystem(req).readdir(fi->fh, static_cast<uint64_t>(off), plus,
                                   [&](const fs::DirEntry& e, double attr_ttl, double entry_ttl) {
                                     size_t rem = size - used;
                                     size_t need;
                                     if (plus) {
                                       fuse_entry_param p{};
                                       p.attr = e.attr;
                                       bool dot = e.name == "." || e.name == "..";
                                       p.ino = dot ? 0 : e.attr.st_ino;
                                       p.generation = 1;
                                       p.attr_timeout = attr_ttl;
                                       p.entry_timeout = entry_ttl;
                                       need = fuse_add_direntry_plus(req, buf.data() + used, rem, e.name.c_str(),
                                                                     &p, static_cast<off_t>(e.next_offset));
                                     } else {
                                       need = fuse_add_direntry(req, buf.data() + used, rem, e.name.c_str(),
                                                                &e.attr, static_cast<off_t>(e.next_offset));
                                     }
                                     if (need > rem) return false;
                                     used += need;
                                     return true;
                                   });
  // An error after some entries were added is reported by returning those
  // entries; the next call (from the later offset) reports it.
  if (rc && used == 0)
    fuse_reply_err(req, rc);
  else
    fuse_reply_buf(req, buf.data(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "readdir", [&] { do_readdir(req, size, off, fi, false); });
}

void op_readdirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  guarded(req, "readdirplus", [&] { do_readdir(req, size, off, fi, true); });
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  guarded(req, "releasedir", [&] { fuse_reply_err(req, filesystem(req).releasedir(fi->fh)); });
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  guarded(req, "fsyncdir", [&] { fuse_reply_err(req, filesystem(req).fsyncdir(ino)); });
}

void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  guarded(req, "statfs", [&] {
    struct statvfs sv {};
    int rc = filesystem(req).statfs(ino, &sv);
    if (rc)
      fuse_reply_err(req, rc);
    else
      fuse_reply_statfs(req, &sv);
  });
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.create = op_create;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.write_buf = op_write_buf;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;
  ops.statfs = op_statfs;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& lowlevel_ops() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

}  // namespace bucketfs::fusefs
