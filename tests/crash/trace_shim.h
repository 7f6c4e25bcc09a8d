// trace_shim.h - internal to the LD_PRELOAD recorder (trace_shim_core.c,
// trace_shim_ns.c, trace_shim_io.c); the log format and the list of traced
// calls are in trace_shim_core.c's header comment.
//
// Locking: g_mu is held across the real call and the append of its record, so
// the log's order is the order the calls took effect. The fd table is read
// without it first (an untraced fd never takes the lock) and checked again
// under it. Everything here is hidden: only the wrappers and bfs_trace_* are
// exported (the shim is built with -fvisibility=hidden).
#pragma once
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

// Not declared by every header set.
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);

#define EXPORT __attribute__((visibility("default")))
#define MAX_FD 65536
#define PATH_BUF (PATH_MAX * 2)

// Every libc function the shim wraps (fcntl and fcntl64 are variadic: apart).
#define SHIM_FUNCS(X)                                                                                        \
  X(open)                                                                                                    \
  X(open64)                                                                                                  \
  X(openat) X(openat64) X(creat) X(creat64) X(__open_2) X(__open64_2) X(__openat_2) X(__openat64_2) X(close) \
      X(close_range) X(dup) X(dup2) X(dup3) X(write) X(pwrite) X(pwrite64) X(writev) X(pwritev) X(pwritev64) \
          X(pwritev2) X(pwritev64v2) X(fsync) X(fdatasync) X(sync_file_range) X(msync) X(syncfs) X(sync)     \
              X(ftruncate) X(ftruncate64) X(truncate) X(truncate64) X(fallocate) X(fallocate64)              \
                  X(posix_fallocate) X(posix_fallocate64) X(rename) X(renameat) X(renameat2) X(unlink)       \
                      X(unlinkat) X(link) X(linkat) X(mkdir) X(mkdirat) X(rmdir) X(setxattr) X(lsetxattr)    \
                          X(fsetxattr) X(removexattr) X(lremovexattr) X(fremovexattr) X(copy_file_range)     \
                              X(sendfile) X(sendfile64) X(splice) X(mmap) X(mmap64)
#define SHIM_DECLARE_REAL(name) extern __typeof__(name)* real_##name;
SHIM_FUNCS(SHIM_DECLARE_REAL)
extern int (*real_fcntl)(int, int, ...);
extern int (*real_fcntl64)(int, int, ...);

// Looks every real function up (idempotent, cheap once done).
void shim_resolve(void);
#define ENSURE(name)             \
  do {                           \
    if (!real_##name) {          \
      shim_resolve();            \
      if (!real_##name) abort(); \
    }                            \
  } while (0)

// --- state (guarded by g_mu) ---
extern pthread_mutex_t g_mu;
extern int g_active;
extern dev_t g_dir_dev;
extern int g_fd_flags[MAX_FD];

// --- records ---
struct buf {
  char* p;
  size_t len, cap;
};
void buf_put(struct buf* b, const void* s, size_t n);
void buf_str(struct buf* b, const char* s);
void buf_fmt(struct buf* b, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// A space, then s percent-encoded (bytes outside 0x21..0x7e and '%'); "" is "%00".
void buf_stok(struct buf* b, const char* s);
// Appends the record (and payload, when with_payload) with one write; frees b.
void emit(struct buf* b, const void* payload, size_t n, int with_payload);
void emit_simple(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "<op> <id> <rel>": the common shape of namespace records.
void emit_id_path(const char* op, long id, const char* rel);
// "SEC.NSEC" of st_mtim (a thread-local buffer, valid until the next call).
const char* mtime_of(const struct stat* st);

// --- inodes and paths ---
long inode_find(dev_t dev, ino_t ino, int* is_dir);
long new_id(const struct stat* st);
// Whether (dirfd, path) is under the traced dir (tracing on); fills abs
// (PATH_BUF bytes) and *rel (relative to the dir, "." for the dir itself).
int traced_path(int dirfd, const char* path, char* abs, const char** rel);
// The id of the file at a traced absolute path (0 if none).
long path_id(const char* abs, int follow, int* is_dir);
// Records the bytes of a file that appeared without a traced create; returns its new id.
long adopt_fd(int fd, const struct stat* st, const char* rel);

// --- descriptors ---
int fd_traced(int fd);  // lock-free pre-check
void fd_track(int fd, long id, int flags);
void fd_forget(int fd);
// The id of a traced fd, checked against the inode it refers to now (an fd
// closed behind the shim's back and reused is forgotten). 0: not traced.
long fd_id(int fd);
// Records a write of n bytes at off (and the sync an O_DSYNC/O_SYNC fd implies).
void log_write(long id, int fd, off_t off, const void* data, size_t n);
