// trace_shim_io.c - the recorder's data operations: writes (and copies into
// traced files), syncs, size changes, extended attributes and shared
// mappings; see trace_shim_core.c for the log format.
#include "trace_shim.h"

#include <errno.h>
#include <string.h>

// --- writes ---
// Gathers the first n bytes of an iovec.
static char* gather(const struct iovec* iov, int cnt, size_t n) {
  char* p = malloc(n ? n : 1);
  if (!p) abort();
  size_t off = 0;
  for (int i = 0; i < cnt && off < n; i++) {
    size_t take = iov[i].iov_len < n - off ? iov[i].iov_len : n - off;
    memcpy(p + off, iov[i].iov_base, take);
    off += take;
  }
  return p;
}
// The offset a write of n bytes without an explicit offset went to.
static off_t written_at(int fd, ssize_t n) { return lseek(fd, 0, SEEK_CUR) - n; }

EXPORT ssize_t write(int fd, const void* data, size_t n) {
  ENSURE(write);
  if (!fd_traced(fd)) return real_write(fd, data, n);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  ssize_t w = real_write(fd, data, n);
  int saved = errno;
  if (id && w > 0) log_write(id, fd, written_at(fd, w), data, (size_t)w);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return w;
}
static ssize_t pwrite_common(ssize_t (*real)(int, const void*, size_t, off_t), int fd, const void* data, size_t n,
                             off_t off) {
  if (!fd_traced(fd)) return real(fd, data, n, off);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  ssize_t w = real(fd, data, n, off);
  int saved = errno;
  if (id && w > 0) {
    // O_APPEND: Linux pwrite appends whatever the offset says.
    off_t at = (g_fd_flags[fd] & O_APPEND) ? written_at(fd, w) : off;
    log_write(id, fd, at, data, (size_t)w);
  }
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return w;
}
EXPORT ssize_t pwrite(int fd, const void* data, size_t n, off_t off) {
  ENSURE(pwrite);
  return pwrite_common(real_pwrite, fd, data, n, off);
}
EXPORT ssize_t pwrite64(int fd, const void* data, size_t n, off64_t off) {
  ENSURE(pwrite64);
  return pwrite_common(real_pwrite64, fd, data, n, off);
}
// writev family: offset -1 means "at the file position".
static ssize_t writev_common(int fd, const struct iovec* iov, int cnt, off_t off, ssize_t (*call)(void)) {
  if (!fd_traced(fd)) return call();
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  ssize_t w = call();
  int saved = errno;
  if (id && w > 0) {
    char* p = gather(iov, cnt, (size_t)w);
    off_t at = (off < 0 || (g_fd_flags[fd] & O_APPEND)) ? written_at(fd, w) : off;
    log_write(id, fd, at, p, (size_t)w);
    free(p);
  }
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return w;
}
static __thread struct {
  int which, fd, cnt, flags;
  const struct iovec* iov;
  off_t off;
} t_wv;
static ssize_t call_writev(void) {
  switch (t_wv.which) {
    case 0: return real_writev(t_wv.fd, t_wv.iov, t_wv.cnt);
    case 1: return real_pwritev(t_wv.fd, t_wv.iov, t_wv.cnt, t_wv.off);
    case 2: return real_pwritev64(t_wv.fd, t_wv.iov, t_wv.cnt, t_wv.off);
    case 3: return real_pwritev2(t_wv.fd, t_wv.iov, t_wv.cnt, t_wv.off, t_wv.flags);
    default: return real_pwritev64v2(t_wv.fd, t_wv.iov, t_wv.cnt, t_wv.off, t_wv.flags);
  }
}
static ssize_t writev_any(int which, int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  shim_resolve();
  t_wv.which = which;
  t_wv.fd = fd;
  t_wv.iov = iov;
  t_wv.cnt = cnt;
  t_wv.off = off;
  t_wv.flags = flags;
  return writev_common(fd, iov, cnt, which == 0 ? -1 : off, call_writev);
}
EXPORT ssize_t writev(int fd, const struct iovec* iov, int cnt) { return writev_any(0, fd, iov, cnt, -1, 0); }
EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  return writev_any(1, fd, iov, cnt, off, 0);
}
EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off64_t off) {
  return writev_any(2, fd, iov, cnt, off, 0);
}
EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  return writev_any(3, fd, iov, cnt, off, flags);
}
EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int cnt, off64_t off, int flags) {
  return writev_any(4, fd, iov, cnt, off, flags);
}

// Records the bytes a copy put into a traced fd at dst_off.
static void log_copied(long id, int fd_out, off_t dst_off, ssize_t n) {
  if (!id || n <= 0) return;
  char* p = malloc((size_t)n);
  if (!p) abort();
  ssize_t got = pread(fd_out, p, (size_t)n, dst_off);
  if (got == n)
    log_write(id, fd_out, dst_off, p, (size_t)n);
  else
    emit_simple("warn copy into %ld: cannot read back the %zd bytes copied", id, n);
  free(p);
}
// A copy into a traced file (copy_file_range, sendfile, splice): copy_begin
// takes the trace lock and notes where the bytes will land (off_out, or the
// file position when it is NULL); copy_end records the n bytes copied there,
// releases the lock and keeps the call's errno.
static long copy_begin(int fd_out, const off64_t* off_out, off_t* dst) {
  pthread_mutex_lock(&g_mu);
  *dst = off_out ? *off_out : lseek(fd_out, 0, SEEK_CUR);
  return fd_id(fd_out);
}
static ssize_t copy_end(long id, int fd_out, off_t dst, ssize_t n) {
  int saved = errno;
  log_copied(id, fd_out, dst, n);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return n;
}
EXPORT ssize_t copy_file_range(int fd_in, off64_t* off_in, int fd_out, off64_t* off_out, size_t len,
                               unsigned flags) {
  ENSURE(copy_file_range);
  if (!fd_traced(fd_out)) return real_copy_file_range(fd_in, off_in, fd_out, off_out, len, flags);
  off_t dst;
  long id = copy_begin(fd_out, off_out, &dst);
  return copy_end(id, fd_out, dst, real_copy_file_range(fd_in, off_in, fd_out, off_out, len, flags));
}
static ssize_t sendfile_common(ssize_t (*real)(int, int, off_t*, size_t), int out, int in, off_t* off,
                               size_t count) {
  if (!fd_traced(out)) return real(out, in, off, count);
  off_t dst;
  long id = copy_begin(out, NULL, &dst);
  return copy_end(id, out, dst, real(out, in, off, count));
}
EXPORT ssize_t sendfile(int out, int in, off_t* off, size_t count) {
  ENSURE(sendfile);
  return sendfile_common(real_sendfile, out, in, off, count);
}
EXPORT ssize_t sendfile64(int out, int in, off64_t* off, size_t count) {
  ENSURE(sendfile64);
  return sendfile_common(real_sendfile64, out, in, off, count);
}

// splice into a traced file: bucketfs's write_buf moves a write request's
// bytes from libfuse's pipe into the staged file this way. Recorded like a
// copy: a write of the bytes it put there, read back.
EXPORT ssize_t splice(int fd_in, off64_t* off_in, int fd_out, off64_t* off_out, size_t len, unsigned int flags) {
  ENSURE(splice);
  if (!fd_traced(fd_out)) return real_splice(fd_in, off_in, fd_out, off_out, len, flags);
  off_t dst;
  long id = copy_begin(fd_out, off_out, &dst);
  return copy_end(id, fd_out, dst, real_splice(fd_in, off_in, fd_out, off_out, len, flags));
}

// --- syncs ---
static int fd_sync(int (*real)(int), const char* what, int fd) {
  if (!g_active) return real(fd);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  struct stat st;
  // A descriptor opened without a traced call (opendir, fopen): known by its inode.
  if (!id && fstat(fd, &st) == 0) id = inode_find(st.st_dev, st.st_ino, NULL);
  int rc = real(fd), saved = errno;
  if (id && rc == 0) emit_simple("%s %ld", what, id);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int fsync(int fd) {
  ENSURE(fsync);
  return fd_sync(real_fsync, "fsync", fd);
}
EXPORT int fdatasync(int fd) {
  ENSURE(fdatasync);
  return fd_sync(real_fdatasync, "fdatasync", fd);
}
EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned flags) {
  ENSURE(sync_file_range);
  if (!fd_traced(fd)) return real_sync_file_range(fd, off, n, flags);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  int rc = real_sync_file_range(fd, off, n, flags), saved = errno;
  if (id) emit_simple("sfr %ld", id);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int msync(void* addr, size_t len, int flags) {
  ENSURE(msync);
  pthread_mutex_lock(&g_mu);
  int rc = real_msync(addr, len, flags), saved = errno;
  if (g_active) emit_simple("msync");
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int syncfs(int fd) {
  ENSURE(syncfs);
  pthread_mutex_lock(&g_mu);
  int rc = real_syncfs(fd), saved = errno;
  struct stat st;
  if (g_active && rc == 0 && fstat(fd, &st) == 0 && st.st_dev == g_dir_dev) emit_simple("sync");
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT void sync(void) {
  ENSURE(sync);
  pthread_mutex_lock(&g_mu);
  real_sync();
  if (g_active) emit_simple("sync");
  pthread_mutex_unlock(&g_mu);
}

// --- sizes ---
static int ftrunc_common(int (*real)(int, off_t), int fd, off_t len) {
  if (!fd_traced(fd)) return real(fd, len);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  int rc = real(fd, len), saved = errno;
  struct stat st;
  if (id && rc == 0 && fstat(fd, &st) == 0) emit_simple("trunc %ld %lld %s", id, (long long)len, mtime_of(&st));
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int ftruncate(int fd, off_t len) {
  ENSURE(ftruncate);
  return ftrunc_common(real_ftruncate, fd, len);
}
EXPORT int ftruncate64(int fd, off64_t len) {
  ENSURE(ftruncate64);
  return ftrunc_common(real_ftruncate64, fd, len);
}
// The id of the file at a traced path (0 if none or not traced).
long path_id(const char* abs, int follow, int* is_dir) {
  struct stat st;
  if ((follow ? stat(abs, &st) : lstat(abs, &st)) != 0) return 0;
  return inode_find(st.st_dev, st.st_ino, is_dir);
}
static int trunc_common(int (*real)(const char*, off_t), const char* path, off_t len) {
  char abs[PATH_BUF];
  const char* rel;
  pthread_mutex_lock(&g_mu);
  if (!traced_path(AT_FDCWD, path, abs, &rel)) {
    pthread_mutex_unlock(&g_mu);
    return real(path, len);
  }
  long id = path_id(abs, 1, NULL);
  int rc = real(path, len), saved = errno;
  struct stat st;
  if (id && rc == 0 && stat(abs, &st) == 0) emit_simple("trunc %ld %lld %s", id, (long long)len, mtime_of(&st));
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
EXPORT int truncate(const char* path, off_t len) {
  ENSURE(truncate);
  return trunc_common(real_truncate, path, len);
}
EXPORT int truncate64(const char* path, off64_t len) {
  ENSURE(truncate64);
  return trunc_common(real_truncate64, path, len);
}
static int falloc_common(int fd, int mode, off_t off, off_t len, int (*call)(void)) {
  if (!fd_traced(fd)) return call();
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  int rc = call(), saved = errno;
  struct stat st;
  if (id && rc == 0 && fstat(fd, &st) == 0)
    emit_simple("falloc %ld %d %lld %lld %s", id, mode, (long long)off, (long long)len, mtime_of(&st));
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
static __thread struct {
  int which, fd, mode;
  off_t off, len;
} t_fa;
static int call_falloc(void) {
  switch (t_fa.which) {
    case 0: return real_fallocate(t_fa.fd, t_fa.mode, t_fa.off, t_fa.len);
    case 1: return real_fallocate64(t_fa.fd, t_fa.mode, t_fa.off, t_fa.len);
    case 2: return real_posix_fallocate(t_fa.fd, t_fa.off, t_fa.len);
    default: return real_posix_fallocate64(t_fa.fd, t_fa.off, t_fa.len);
  }
}
static int falloc_any(int which, int fd, int mode, off_t off, off_t len) {
  shim_resolve();
  t_fa.which = which;
  t_fa.fd = fd;
  t_fa.mode = mode;
  t_fa.off = off;
  t_fa.len = len;
  return falloc_common(fd, mode, off, len, call_falloc);
}
EXPORT int fallocate(int fd, int mode, off_t off, off_t len) { return falloc_any(0, fd, mode, off, len); }
EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len) { return falloc_any(1, fd, mode, off, len); }
EXPORT int posix_fallocate(int fd, off_t off, off_t len) { return falloc_any(2, fd, 0, off, len); }
EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len) { return falloc_any(3, fd, 0, off, len); }

// --- extended attributes ---
static void log_xattr(long id, const char* name, const void* value, size_t size, int set) {
  struct buf r = {0};
  buf_fmt(&r, "%s %ld", set ? "setxattr" : "removexattr", id);
  buf_stok(&r, name);
  if (set)
    emit(&r, value, size, 1);
  else
    emit(&r, NULL, 0, 0);
}
static int xattr_path(const char* path, int follow, const char* name, const void* value, size_t size, int set,
                      int (*call)(void)) {
  char abs[PATH_BUF];
  const char* rel;
  pthread_mutex_lock(&g_mu);
  if (!traced_path(AT_FDCWD, path, abs, &rel)) {
    pthread_mutex_unlock(&g_mu);
    return call();
  }
  long id = path_id(abs, follow, NULL);
  int rc = call(), saved = errno;
  if (rc == 0 && id) log_xattr(id, name, value, size, set);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
static int xattr_fd(int fd, const char* name, const void* value, size_t size, int set, int (*call)(void)) {
  if (!fd_traced(fd)) return call();
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  int rc = call(), saved = errno;
  if (rc == 0 && id) log_xattr(id, name, value, size, set);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return rc;
}
static __thread struct {
  int which, fd, flags;
  const char *path, *name;
  const void* value;
  size_t size;
} t_xa;
static int call_xattr(void) {
  switch (t_xa.which) {
    case 0: return real_setxattr(t_xa.path, t_xa.name, t_xa.value, t_xa.size, t_xa.flags);
    case 1: return real_lsetxattr(t_xa.path, t_xa.name, t_xa.value, t_xa.size, t_xa.flags);
    case 2: return real_fsetxattr(t_xa.fd, t_xa.name, t_xa.value, t_xa.size, t_xa.flags);
    case 3: return real_removexattr(t_xa.path, t_xa.name);
    case 4: return real_lremovexattr(t_xa.path, t_xa.name);
    default: return real_fremovexattr(t_xa.fd, t_xa.name);
  }
}
static void bind_xa(int which, int fd, const char* path, const char* name, const void* value, size_t size,
                    int flags) {
  shim_resolve();
  t_xa.which = which;
  t_xa.fd = fd;
  t_xa.path = path;
  t_xa.name = name;
  t_xa.value = value;
  t_xa.size = size;
  t_xa.flags = flags;
}
EXPORT int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  bind_xa(0, -1, path, name, value, size, flags);
  return xattr_path(path, 1, name, value, size, 1, call_xattr);
}
EXPORT int lsetxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  bind_xa(1, -1, path, name, value, size, flags);
  return xattr_path(path, 0, name, value, size, 1, call_xattr);
}
EXPORT int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  bind_xa(2, fd, NULL, name, value, size, flags);
  return xattr_fd(fd, name, value, size, 1, call_xattr);
}
EXPORT int removexattr(const char* path, const char* name) {
  bind_xa(3, -1, path, name, NULL, 0, 0);
  return xattr_path(path, 1, name, NULL, 0, 0, call_xattr);
}
EXPORT int lremovexattr(const char* path, const char* name) {
  bind_xa(4, -1, path, name, NULL, 0, 0);
  return xattr_path(path, 0, name, NULL, 0, 0, call_xattr);
}
EXPORT int fremovexattr(int fd, const char* name) {
  bind_xa(5, fd, NULL, name, NULL, 0, 0);
  return xattr_fd(fd, name, NULL, 0, 0, call_xattr);
}

// --- mappings ---
static void* mmap_common(void* (*real)(void*, size_t, int, int, int, off_t), void* addr, size_t len, int prot,
                         int flags, int fd, off_t off) {
  if (!fd_traced(fd) || !(prot & PROT_WRITE) || !(flags & MAP_SHARED))
    return real(addr, len, prot, flags, fd, off);
  pthread_mutex_lock(&g_mu);
  long id = fd_id(fd);
  void* p = real(addr, len, prot, flags, fd, off);
  int saved = errno;
  if (id && p != MAP_FAILED) emit_simple("mmap %ld %d %d", id, prot, flags);
  pthread_mutex_unlock(&g_mu);
  errno = saved;
  return p;
}
EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  ENSURE(mmap);
  return mmap_common(real_mmap, addr, len, prot, flags, fd, off);
}
EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off64_t off) {
  ENSURE(mmap64);
  return mmap_common(real_mmap64, addr, len, prot, flags, fd, off);
}
