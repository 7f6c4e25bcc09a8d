// trace_shim_ns.c - the recorder's opens, descriptor bookkeeping (close, dup,
// fcntl) and namespace changes (rename, link, unlink, mkdir, rmdir); see
// trace_shim_core.c for the log format.
#include "trace_shim.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

// --- opens ---
// The common body of every open: the real call under the lock, then the
// record (create for a new file, trunc for O_TRUNC of an existing one).
static int do_open(int dirfd, const char* path, int flags, mode_t mode, int (*call)(void)) {
  char abs[PATH_BUF];
  const char* rel;
  (void)dirfd;
  pthread_mutex_lock(&g_mu);
  if (!traced_path(dirfd, path, abs, &rel)) {
    pthread_mutex_unlock(&g_mu);
    return call();
  }
  struct stat before;
  int existed = lstat(abs, &before) == 0;
  int fd = call();
  int saved = errno;
  if (fd >= 0) {
    struct stat st;
    if (fstat(fd, &st) == 0) {
      int is_dir = 0;
      long id = existed ? inode_find(st.st_dev, st.st_ino, &is_dir) : 0;
      if (!existed) {
        id = new_id(&st);
        struct buf b = {0};
        buf_fmt(&b, "%s %ld", S_ISDIR(st.st_mode) ? "mkdir" : "create", id);
        buf_stok(&b, rel);
        if (!S_ISDIR(st.st_mode)) buf_fmt(&b, " %s", mtime_of(&st));
        emit(&b, NULL, 0, 0);
      } else if (!id) {
        id = adopt_fd(fd, &st, rel);
      }
      struct buf b = {0};
      buf_fmt(&b, "open %ld", id);
      buf_stok(&b, rel);
      buf_fmt(&b, " %x", (unsigned)flags);
      emit(&b, NULL, 0, 0);
      if (existed && (flags & O_TRUNC) && S_ISREG(st.st_mode) && (flags & O_ACCMODE) != O_RDONLY)
        emit_simple("trunc %ld 0 %s", id, mtime_of(&st));
      fd_track(fd, id, flags);
    }
  }
  (void)mode;
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return fd;
}

// The real open calls, bound to their arguments through thread-local slots
// (do_open calls back without arguments so each wrapper stays one line).
static __thread struct {
  int which, dirfd, flags;
  const char* path;
  mode_t mode;
} t_open;
static int call_open(void) {
  switch (t_open.which) {
    case 0: ENSURE(open); return real_open(t_open.path, t_open.flags, t_open.mode);
    case 1: ENSURE(open64); return real_open64(t_open.path, t_open.flags, t_open.mode);
    case 2: ENSURE(openat); return real_openat(t_open.dirfd, t_open.path, t_open.flags, t_open.mode);
    case 3: ENSURE(openat64); return real_openat64(t_open.dirfd, t_open.path, t_open.flags, t_open.mode);
    case 4: ENSURE(__open_2); return real___open_2(t_open.path, t_open.flags);
    case 5: ENSURE(__open64_2); return real___open64_2(t_open.path, t_open.flags);
    case 6: ENSURE(__openat_2); return real___openat_2(t_open.dirfd, t_open.path, t_open.flags);
    default: ENSURE(__openat64_2); return real___openat64_2(t_open.dirfd, t_open.path, t_open.flags);
  }
}
static int open_common(int which, int dirfd, const char* path, int flags, mode_t mode) {
  t_open.which = which;
  t_open.dirfd = dirfd;
  t_open.path = path;
  t_open.flags = flags;
  t_open.mode = mode;
  return do_open(dirfd, path, flags, mode, call_open);
}
#define OPEN_MODE(flags)                   \
  mode_t mode = 0;                         \
  if ((flags) & (O_CREAT | __O_TMPFILE)) { \
    va_list ap;                            \
    va_start(ap, flags);                   \
    mode = (mode_t)va_arg(ap, int);        \
    va_end(ap);                            \
  }

EXPORT int open(const char* path, int flags, ...) {
  OPEN_MODE(flags);
  return open_common(0, AT_FDCWD, path, flags, mode);
}
EXPORT int open64(const char* path, int flags, ...) {
  OPEN_MODE(flags);
  return open_common(1, AT_FDCWD, path, flags, mode);
}
EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  OPEN_MODE(flags);
  return open_common(2, dirfd, path, flags, mode);
}
EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  OPEN_MODE(flags);
  return open_common(3, dirfd, path, flags, mode);
}
EXPORT int __open_2(const char* path, int flags) { return open_common(4, AT_FDCWD, path, flags, 0); }
EXPORT int __open64_2(const char* path, int flags) { return open_common(5, AT_FDCWD, path, flags, 0); }
EXPORT int __openat_2(int dirfd, const char* path, int flags) { return open_common(6, dirfd, path, flags, 0); }
EXPORT int __openat64_2(int dirfd, const char* path, int flags) { return open_common(7, dirfd, path, flags, 0); }
EXPORT int creat(const char* path, mode_t mode) {
  return open_common(0, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
EXPORT int creat64(const char* path, mode_t mode) {
  return open_common(1, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

// --- descriptors ---
EXPORT int close(int fd) {
  ENSURE(close);
  if (!fd_traced(fd)) return real_close(fd);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  int rc = real_close(fd);
  int saved = errno;
  if (id) emit_simple("close %ld", id);
  fd_forget(fd);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int close_range(unsigned first, unsigned last, int flags) {
  ENSURE(close_range);
  pthread_mutex_lock(&g_mu);
  int rc = real_close_range(first, last, flags);
  int saved = errno;
  if (rc == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
    for (unsigned fd = first; fd <= last && fd < MAX_FD; fd++) fd_forget((int)fd);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
// After a successful dup of a traced fd, newfd refers to the same file.
static int after_dup(int oldfd, int newfd) {
  if (newfd >= 0 && newfd != oldfd) {
    fd_forget(newfd);
    long id = fd_id(oldfd);
    if (id) fd_track(newfd, id, g_fd_flags[oldfd]);
  }
  return newfd;
}
EXPORT int dup(int fd) {
  ENSURE(dup);
  pthread_mutex_lock(&g_mu);
  int n = real_dup(fd), saved = errno;
  after_dup(fd, n);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return n;
}
EXPORT int dup2(int fd, int newfd) {
  ENSURE(dup2);
  pthread_mutex_lock(&g_mu);
  int n = real_dup2(fd, newfd), saved = errno;
  after_dup(fd, n);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return n;
}
EXPORT int dup3(int fd, int newfd, int flags) {
  ENSURE(dup3);
  pthread_mutex_lock(&g_mu);
  int n = real_dup3(fd, newfd, flags), saved = errno;
  after_dup(fd, n);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return n;
}
static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void* arg) {
  if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) return real(fd, cmd, arg);
  pthread_mutex_lock(&g_mu);
  int n = real(fd, cmd, arg), saved = errno;
  after_dup(fd, n);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return n;
}
EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  ENSURE(fcntl);
  return fcntl_common(real_fcntl, fd, cmd, arg);
}
EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  ENSURE(fcntl64);
  return fcntl_common(real_fcntl64, fd, cmd, arg);
}

// --- namespace ---
static int rename_common(int olddir, const char* oldp, int newdir, const char* newp, unsigned flags,
                         int (*call)(void)) {
  char a[PATH_BUF], b[PATH_BUF];
  const char *ra = NULL, *rb = NULL;
  pthread_mutex_lock(&g_mu);
  int ta = traced_path(olddir, oldp, a, &ra), tb = traced_path(newdir, newp, b, &rb);
  if (!ta && !tb) {
    pthread_mutex_unlock(&g_mu);
    return call();
  }
  int is_dir = 0;
  long id = ta ? path_id(a, 0, &is_dir) : 0;
  long replaced = tb ? path_id(b, 0, NULL) : 0;
  int rc = call(), saved = errno;
  if (rc == 0) {
    struct buf r = {0};
    if (ta && tb) {
      buf_fmt(&r, "rename %ld", id);
      buf_stok(&r, ra);
      buf_stok(&r, rb);
      buf_fmt(&r, " %ld", (flags & RENAME_EXCHANGE) ? -1L : replaced);
      emit(&r, NULL, 0, 0);
      if (flags & RENAME_EXCHANGE) emit_simple("warn RENAME_EXCHANGE is not modelled");
    } else if (ta) {  // moved out: gone from the traced tree
      buf_fmt(&r, "unlink %ld", id);
      buf_stok(&r, ra);
      emit(&r, NULL, 0, 0);
    } else {  // moved in: a file the trace never saw
      int fd = real_open(b, O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) adopt_fd(fd, &st, rb);
      if (fd >= 0) real_close(fd);
    }
  }
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
static __thread struct {
  int which, olddir, newdir;
  const char *oldp, *newp;
  unsigned flags;
} t_rn;
static int call_rename(void) {
  switch (t_rn.which) {
    case 0: return real_rename(t_rn.oldp, t_rn.newp);
    case 1: return real_renameat(t_rn.olddir, t_rn.oldp, t_rn.newdir, t_rn.newp);
    case 2: return real_renameat2(t_rn.olddir, t_rn.oldp, t_rn.newdir, t_rn.newp, t_rn.flags);
    case 3: return real_link(t_rn.oldp, t_rn.newp);
    default: return real_linkat(t_rn.olddir, t_rn.oldp, t_rn.newdir, t_rn.newp, (int)t_rn.flags);
  }
}
static void bind_rn(int which, int olddir, const char* oldp, int newdir, const char* newp, unsigned flags) {
  shim_resolve();
  t_rn.which = which;
  t_rn.olddir = olddir;
  t_rn.oldp = oldp;
  t_rn.newdir = newdir;
  t_rn.newp = newp;
  t_rn.flags = flags;
}
EXPORT int rename(const char* a, const char* b) {
  bind_rn(0, AT_FDCWD, a, AT_FDCWD, b, 0);
  return rename_common(AT_FDCWD, a, AT_FDCWD, b, 0, call_rename);
}
EXPORT int renameat(int da, const char* a, int db, const char* b) {
  bind_rn(1, da, a, db, b, 0);
  return rename_common(da, a, db, b, 0, call_rename);
}
EXPORT int renameat2(int da, const char* a, int db, const char* b, unsigned flags) {
  bind_rn(2, da, a, db, b, flags);
  return rename_common(da, a, db, b, flags, call_rename);
}
static int link_common(int da, const char* a, int db, const char* b) {
  char pa[PATH_BUF], pb[PATH_BUF];
  const char *ra = NULL, *rb = NULL;
  pthread_mutex_lock(&g_mu);
  int ta = traced_path(da, a, pa, &ra), tb = traced_path(db, b, pb, &rb);
  if (!tb) {
    pthread_mutex_unlock(&g_mu);
    return call_rename();
  }
  int rc = call_rename(), saved = errno;
  if (rc == 0) {
    struct stat st;
    long id = ta ? path_id(pa, 0, NULL) : 0;
    if (id) {
      struct buf r = {0};
      buf_fmt(&r, "link %ld", id);
      buf_stok(&r, ra);
      buf_stok(&r, rb);
      emit(&r, NULL, 0, 0);
    } else if (lstat(pb, &st) == 0) {
      int fd = real_open(pb, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) adopt_fd(fd, &st, rb);
      if (fd >= 0) real_close(fd);
    }
  }
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int link(const char* a, const char* b) {
  bind_rn(3, AT_FDCWD, a, AT_FDCWD, b, 0);
  return link_common(AT_FDCWD, a, AT_FDCWD, b);
}
EXPORT int linkat(int da, const char* a, int db, const char* b, int flags) {
  bind_rn(4, da, a, db, b, (unsigned)flags);
  return link_common(da, a, db, b);
}
static int remove_common(int dirfd, const char* path, int rmdir_flag, int (*call)(void)) {
  char abs[PATH_BUF];
  const char* rel;
  pthread_mutex_lock(&g_mu);
  if (!traced_path(dirfd, path, abs, &rel)) {
    pthread_mutex_unlock(&g_mu);
    return call();
  }
  long id = path_id(abs, 0, NULL);
  int rc = call(), saved = errno;
  if (rc == 0) {
    struct buf r = {0};
    buf_fmt(&r, "%s %ld", rmdir_flag ? "rmdir" : "unlink", id);
    buf_stok(&r, rel);
    emit(&r, NULL, 0, 0);
  }
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
static __thread struct {
  int which, dirfd, flags;
  const char* path;
  mode_t mode;
} t_po;
static int call_path_op(void) {
  switch (t_po.which) {
    case 0: return real_unlink(t_po.path);
    case 1: return real_unlinkat(t_po.dirfd, t_po.path, t_po.flags);
    case 2: return real_rmdir(t_po.path);
    case 3: return real_mkdir(t_po.path, t_po.mode);
    default: return real_mkdirat(t_po.dirfd, t_po.path, t_po.mode);
  }
}
static void bind_po(int which, int dirfd, const char* path, int flags, mode_t mode) {
  shim_resolve();
  t_po.which = which;
  t_po.dirfd = dirfd;
  t_po.path = path;
  t_po.flags = flags;
  t_po.mode = mode;
}
EXPORT int unlink(const char* path) {
  bind_po(0, AT_FDCWD, path, 0, 0);
  return remove_common(AT_FDCWD, path, 0, call_path_op);
}
EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  bind_po(1, dirfd, path, flags, 0);
  return remove_common(dirfd, path, (flags & AT_REMOVEDIR) != 0, call_path_op);
}
EXPORT int rmdir(const char* path) {
  bind_po(2, AT_FDCWD, path, 0, 0);
  return remove_common(AT_FDCWD, path, 1, call_path_op);
}
static int mkdir_common(int dirfd, const char* path) {
  char abs[PATH_BUF];
  const char* rel;
  pthread_mutex_lock(&g_mu);
  if (!traced_path(dirfd, path, abs, &rel)) {
    pthread_mutex_unlock(&g_mu);
    return call_path_op();
  }
  int rc = call_path_op(), saved = errno;
  struct stat st;
  if (rc == 0 && lstat(abs, &st) == 0) {
    struct buf r = {0};
    buf_fmt(&r, "mkdir %ld", new_id(&st));
    buf_stok(&r, rel);
    emit(&r, NULL, 0, 0);
  }
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int mkdir(const char* path, mode_t mode) {
  bind_po(3, AT_FDCWD, path, 0, mode);
  return mkdir_common(AT_FDCWD, path);
}
EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  bind_po(4, dirfd, path, 0, mode);
  return mkdir_common(dirfd, path);
}
