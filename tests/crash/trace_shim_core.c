// trace_shim_core.c - LD_PRELOAD recorder of every file operation under one
// directory, for the power-loss crash-state harness (tests/crash/README.md).
//
//   LD_PRELOAD=build/tests/crash/trace_shim.so BFS_TRACE_DIR=<dir> BFS_TRACE_OUT=<log> prog
//
// Tracing starts when the program calls bfs_trace_begin() (found with
// dlsym(RTLD_DEFAULT)), or at load time with BFS_TRACE_AUTOSTART=1. It first
// writes the directory as it is (the durable baseline: every file's bytes and
// extended attributes), then one record per operation on a file or directory
// under <dir>, in ONE total order: a global mutex is held across the real call
// and the append of its record, so the order of the records is the order in
// which the calls took effect. bfs_trace_event() lets the program append its
// own records (answered FUSE requests, applied bucket mutations) to the same
// order. Every record is appended with a single write(2) to an O_APPEND file,
// so other processes may append their own lines to the same log.
//
// Log format (one record per line; paths relative to <dir>, percent-encoded;
// "#N" as the last token: N payload bytes follow the newline, then "\n"):
//   begin <abs dir>                  base-dir <id> <path>
//   base-file <id> <path> <mtime> #N base-xattr <id> <name> #N
//   create <id> <path> <mtime>       mkdir <id> <path>         link <id> <src> <dst>
//   open <id> <path> <flags hex>     close <id>
//   write <id> <offset> <mtime> #N   trunc <id> <size> <mtime> falloc <id> <mode> <off> <len> <mtime>
//   (<mtime>: the file's st_mtim after the call, "SEC.NSEC": the recovery compares it)
//   fsync <id>   fdatasync <id>      sync                      sfr <id> (sync_file_range: no durability)
//   msync                            mmap <id> <prot> <flags>  (a shared writable mapping: not modelled)
//   setxattr <id> <name> #N          removexattr <id> <name>
//   rename <id> <src> <dst> <replaced id or 0>   unlink <id> <path>   rmdir <id> <path>
//   adopt <id> <path> <mtime> #N     (a file found under <dir> that no traced call created)
//   ev <text...> [#N]                warn <text>
// A write through an O_DSYNC (O_SYNC) descriptor is followed by fdatasync (fsync).
// copy_file_range/sendfile/splice into a traced file are recorded as writes of the
// bytes they copied. Ids name inodes (hard links share one); directories
// have ids too (fsync of a directory descriptor is "fsync <dir id>").
//
// Intercepted (path and *at forms, 64-bit aliases, glibc's fortified
// __open_2 family): open openat creat close close_range dup dup2 dup3 fcntl
// write pwrite writev pwritev pwritev2 fsync fdatasync sync_file_range msync
// syncfs sync ftruncate truncate fallocate posix_fallocate rename renameat
// renameat2 unlink unlinkat link linkat mkdir mkdirat rmdir [lf]setxattr
// [lf]removexattr copy_file_range sendfile splice mmap. stdio (fopen) is not traced:
// glibc opens its files with internal calls.
//
// Without BFS_TRACE_DIR every call goes straight through. The traced process's
#include "trace_shim.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

// --- state (all guarded by g_mu except the fd table's lock-free pre-check) ---
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
int g_active;                 // tracing on
dev_t g_dir_dev;              // the traced dir's filesystem (syncfs)
int g_fd_flags[MAX_FD];       // open flags of each traced fd
static int g_log_fd = -1;     // the log (O_APPEND)
static char g_dir[PATH_BUF];  // absolute, normalized
static size_t g_dir_len;
static char g_out[PATH_BUF];
static int g_fd_id[MAX_FD];  // fd -> id (0: not traced); read without the lock first
static long g_next_id = 1;

struct inode_ent {
  dev_t dev;
  ino_t ino;
  long id;
  int is_dir;
};
static struct inode_ent* g_inodes;  // open addressing by (dev, ino); id 0 = empty
static size_t g_inodes_cap;
static size_t g_inodes_len;

// --- real functions ---
#define SHIM_DEFINE_REAL(name) __typeof__(name)* real_##name;
SHIM_FUNCS(SHIM_DEFINE_REAL)
int (*real_fcntl)(int, int, ...);
int (*real_fcntl64)(int, int, ...);

void shim_resolve(void) {
#define SHIM_RESOLVE(name) \
  if (!real_##name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name);
  SHIM_FUNCS(SHIM_RESOLVE)
  SHIM_RESOLVE(fcntl)
  SHIM_RESOLVE(fcntl64)
}

// --- the log ---
void buf_put(struct buf* b, const void* s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char* p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
void buf_str(struct buf* b, const char* s) { buf_put(b, s, strlen(s)); }
void buf_fmt(struct buf* b, const char* fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
// A token: bytes outside 0x21..0x7e and '%' are percent-encoded; "" is "%00".
static void buf_tok(struct buf* b, const char* s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  buf_put(b, " ", 1);
  if (n == 0) {
    buf_str(b, "%00");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      buf_put(b, e, 3);
    } else {
      buf_put(b, &c, 1);
    }
  }
}
void buf_stok(struct buf* b, const char* s) { buf_tok(b, s, strlen(s)); }

// Appends the record (header + optional payload) with one write.
void emit(struct buf* b, const void* payload, size_t n, int with_payload) {
  if (with_payload) {
    buf_fmt(b, " #%zu\n", n);
    if (n) buf_put(b, payload, n);
  }
  buf_put(b, "\n", 1);
  size_t off = 0;
  while (off < b->len && g_log_fd >= 0) {
    ssize_t w = real_write(g_log_fd, b->p + off, b->len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
void emit_simple(const char* fmt, ...) {
  struct buf b = {0};
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  buf_str(&b, tmp);
  emit(&b, NULL, 0, 0);
}

const char* mtime_of(const struct stat* st) {
  static __thread char out[48];
  snprintf(out, sizeof out, "%lld.%09ld", (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  return out;
}

void emit_id_path(const char* op, long id, const char* rel) {
  struct buf b = {0};
  buf_fmt(&b, "%s %ld", op, id);
  buf_stok(&b, rel);
  emit(&b, NULL, 0, 0);
}

// --- inodes ---
long inode_find(dev_t dev, ino_t ino, int* is_dir) {
  if (!g_inodes_cap) return 0;
  size_t h = ((size_t)dev * 1000003u ^ (size_t)ino) & (g_inodes_cap - 1);
  for (;; h = (h + 1) & (g_inodes_cap - 1)) {
    struct inode_ent* e = &g_inodes[h];
    if (e->id == 0) return 0;
    if (e->dev == dev && e->ino == ino) {
      if (is_dir) *is_dir = e->is_dir;
      return e->id;
    }
  }
}
static void inode_set(dev_t dev, ino_t ino, long id, int is_dir) {
  if ((g_inodes_len + 1) * 2 > g_inodes_cap) {
    size_t cap = g_inodes_cap ? g_inodes_cap * 2 : 1024;
    struct inode_ent* old = g_inodes;
    size_t old_cap = g_inodes_cap;
    g_inodes = calloc(cap, sizeof *g_inodes);
    if (!g_inodes) abort();
    g_inodes_cap = cap;
    g_inodes_len = 0;
    for (size_t i = 0; i < old_cap; i++)
      if (old[i].id) inode_set(old[i].dev, old[i].ino, old[i].id, old[i].is_dir);
    free(old);
  }
  size_t h = ((size_t)dev * 1000003u ^ (size_t)ino) & (g_inodes_cap - 1);
  for (;; h = (h + 1) & (g_inodes_cap - 1)) {
    struct inode_ent* e = &g_inodes[h];
    if (e->id == 0 || (e->dev == dev && e->ino == ino)) {
      if (e->id == 0) g_inodes_len++;
      e->dev = dev;
      e->ino = ino;
      e->id = id;
      e->is_dir = is_dir;
      return;
    }
  }
}
long new_id(const struct stat* st) {
  long id = g_next_id++;
  inode_set(st->st_dev, st->st_ino, id, S_ISDIR(st->st_mode));
  return id;
}

// --- paths ---
// Lexically normalizes an absolute path in place ("//", ".", "..").
static void normalize(char* p) {
  char out[PATH_BUF];
  size_t o = 0;
  const char* s = p;
  while (*s) {
    while (*s == '/') s++;
    if (!*s) break;
    const char* e = s;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - s);
    if (n == 1 && s[0] == '.') {
    } else if (n == 2 && s[0] == '.' && s[1] == '.') {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
    } else if (o + n + 2 < sizeof out) {
      out[o++] = '/';
      memcpy(out + o, s, n);
      o += n;
    }
    s = e;
  }
  if (o == 0) out[o++] = '/';
  out[o] = 0;
  memcpy(p, out, o + 1);
}
// The absolute path `path` names relative to dirfd (AT_FDCWD: the cwd).
static int abs_path(int dirfd, const char* path, char* out) {
  if (!path) return -1;
  if (path[0] == '/') {
    snprintf(out, PATH_BUF, "%s", path);
  } else {
    char base[PATH_BUF];
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) return -1;
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, base, sizeof base - 1);
      if (n < 0) return -1;
      base[n] = 0;
    }
    if (snprintf(out, PATH_BUF, "%s/%s", base, path) >= PATH_BUF) return -1;
  }
  normalize(out);
  return 0;
}
// The path relative to the traced dir ("." for the dir), or NULL if outside.
static const char* rel_of(const char* abs) {
  if (strncmp(abs, g_dir, g_dir_len) != 0) return NULL;
  if (abs[g_dir_len] == 0) return ".";
  if (abs[g_dir_len] != '/') return NULL;
  return abs + g_dir_len + 1;
}
// Whether (dirfd, path) is under the traced dir; fills abs and *rel.
int traced_path(int dirfd, const char* path, char* abs, const char** rel) {
  if (!g_active || abs_path(dirfd, path, abs) != 0) return 0;
  *rel = rel_of(abs);
  return *rel != NULL;
}

// --- fds ---
int fd_traced(int fd) { return fd >= 0 && fd < MAX_FD && __atomic_load_n(&g_fd_id[fd], __ATOMIC_RELAXED); }
void fd_track(int fd, long id, int flags) {
  if (fd < 0 || fd >= MAX_FD) {
    if (fd >= MAX_FD) emit_simple("warn fd %d beyond the table: not traced", fd);
    return;
  }
  __atomic_store_n(&g_fd_id[fd], (int)id, __ATOMIC_RELAXED);
  g_fd_flags[fd] = flags;
}
void fd_forget(int fd) {
  if (fd >= 0 && fd < MAX_FD) __atomic_store_n(&g_fd_id[fd], 0, __ATOMIC_RELAXED);
}
// The id of a traced fd, checked against the inode it now refers to (an fd
// closed behind our back and reused is dropped). 0: not traced. Under g_mu.
long fd_id(int fd) {
  if (!g_active || !fd_traced(fd)) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fd_forget(fd);
    return 0;
  }
  long id = inode_find(st.st_dev, st.st_ino, NULL);
  if (id != g_fd_id[fd]) {
    fd_forget(fd);
    return 0;
  }
  return id;
}

// Logs the current content of an fd's file as `adopt` (a file that appeared without a traced create).
long adopt_fd(int fd, const struct stat* st, const char* rel) {
  long id = new_id(st);
  struct buf b = {0};
  buf_fmt(&b, "adopt %ld", id);
  buf_stok(&b, rel);
  buf_fmt(&b, " %s", mtime_of(st));
  size_t n = (size_t)st->st_size;
  char* data = n ? malloc(n) : NULL;
  size_t got = 0;
  while (data && got < n) {
    ssize_t r = pread(fd, data + got, n - got, (off_t)got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  emit(&b, data, got, 1);
  free(data);
  return id;
}

void log_write(long id, int fd, off_t off, const void* data, size_t n) {
  struct buf b = {0};
  struct stat st;
  buf_fmt(&b, "write %ld %lld %s", id, (long long)off, fstat(fd, &st) == 0 ? mtime_of(&st) : "0.0");
  emit(&b, data, n, 1);
  int flags = fd >= 0 && fd < MAX_FD ? g_fd_flags[fd] : 0;
  if ((flags & O_SYNC) == O_SYNC)
    emit_simple("fsync %ld", id);
  else if (flags & O_DSYNC)
    emit_simple("fdatasync %ld", id);
}

// --- snapshot at begin ---
static void snapshot_xattrs(long id, const char* abs) {
  char names[8192];
  ssize_t n = llistxattr(abs, names, sizeof names);
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
    char val[65536];
    ssize_t v = lgetxattr(abs, names + i, val, sizeof val);
    if (v < 0) continue;
    struct buf b = {0};
    buf_fmt(&b, "base-xattr %ld", id);
    buf_stok(&b, names + i);
    emit(&b, val, (size_t)v, 1);
  }
}
static void snapshot(const char* abs) {
  struct stat st;
  if (lstat(abs, &st) != 0) return;
  const char* rel = rel_of(abs);
  long id = new_id(&st);
  struct buf b = {0};
  if (S_ISDIR(st.st_mode)) {
    buf_fmt(&b, "base-dir %ld", id);
    buf_stok(&b, rel);
    emit(&b, NULL, 0, 0);
    snapshot_xattrs(id, abs);
    DIR* d = opendir(abs);
    if (!d) return;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char child[PATH_BUF];
      if (snprintf(child, sizeof child, "%s/%s", abs, e->d_name) < (int)sizeof child) snapshot(child);
    }
    closedir(d);
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    buf_str(&b, "warn not-a-regular-file-or-directory");
    buf_stok(&b, rel);
    emit(&b, NULL, 0, 0);
    return;
  }
  int fd = real_open(abs, O_RDONLY | O_CLOEXEC);
  size_t n = (size_t)st.st_size, got = 0;
  char* data = n ? malloc(n) : NULL;
  while (fd >= 0 && data && got < n) {
    ssize_t r = pread(fd, data + got, n - got, (off_t)got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  if (fd >= 0) real_close(fd);
  buf_fmt(&b, "base-file %ld", id);
  buf_stok(&b, rel);
  buf_fmt(&b, " %s", mtime_of(&st));
  emit(&b, data, got, 1);
  free(data);
  snapshot_xattrs(id, abs);
}
// Descriptors already open on traced files when tracing begins.
static void adopt_open_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == dirfd(d) || fd == g_log_fd) continue;
    struct stat st;
    if (fstat(fd, &st) != 0) continue;
    long id = inode_find(st.st_dev, st.st_ino, NULL);
    if (id) fd_track(fd, id, real_fcntl(fd, F_GETFL));
  }
  closedir(d);
}

static int begin_locked(void) {
  if (g_active) return 0;
  shim_resolve();
  const char* dir = getenv("BFS_TRACE_DIR");
  const char* out = getenv("BFS_TRACE_OUT");
  if (dir && *dir) snprintf(g_dir, sizeof g_dir, "%s", dir);
  if (out && *out) snprintf(g_out, sizeof g_out, "%s", out);
  if (!g_dir[0] || !g_out[0]) return -1;
  char real[PATH_MAX];
  if (realpath(g_dir, real)) snprintf(g_dir, sizeof g_dir, "%s", real);
  if (g_dir[0] != '/') {
    char tmp[PATH_BUF];
    if (abs_path(AT_FDCWD, g_dir, tmp) != 0) return -1;
    snprintf(g_dir, sizeof g_dir, "%s", tmp);
  }
  normalize(g_dir);
  g_dir_len = strlen(g_dir);
  if (g_log_fd < 0) g_log_fd = real_open(g_out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (g_log_fd < 0) return -1;
  struct buf b = {0};
  buf_str(&b, "begin");
  buf_stok(&b, g_dir);
  emit(&b, NULL, 0, 0);
  struct stat st;
  if (lstat(g_dir, &st) == 0) {
    g_dir_dev = st.st_dev;
    snapshot(g_dir);
  }
  adopt_open_fds();
  g_active = 1;
  return 0;
}

// --- exported API ---
EXPORT int bfs_trace_begin(void) {
  pthread_mutex_lock(&g_mu);
  int rc = begin_locked();
  pthread_mutex_unlock(&g_mu);
  return rc;
}
EXPORT void bfs_trace_end(void) {
  pthread_mutex_lock(&g_mu);
  if (g_active) emit_simple("end");
  g_active = 0;
  pthread_mutex_unlock(&g_mu);
}
EXPORT int bfs_trace_active(void) { return g_active; }
// Appends "ev <text>" (text: the caller's tokens, already escaped), with a payload if data.
EXPORT void bfs_trace_event(const char* text, const void* data, size_t len) {
  pthread_mutex_lock(&g_mu);
  if (g_active) {
    struct buf b = {0};
    buf_str(&b, "ev ");
    buf_str(&b, text);
    emit(&b, data, len, data != NULL);
  }
  pthread_mutex_unlock(&g_mu);
}

static void atfork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void atfork_release(void) { pthread_mutex_unlock(&g_mu); }

__attribute__((constructor)) static void shim_init(void) {
  shim_resolve();
  pthread_atfork(atfork_prepare, atfork_release, atfork_release);
  const char* dir = getenv("BFS_TRACE_DIR");
  const char* out = getenv("BFS_TRACE_OUT");
  if (dir) snprintf(g_dir, sizeof g_dir, "%s", dir);
  if (out) snprintf(g_out, sizeof g_out, "%s", out);
  const char* autostart = getenv("BFS_TRACE_AUTOSTART");
  int start = autostart && !strcmp(autostart, "1");
  // Children of the traced process are not traced.
  unsetenv("LD_PRELOAD");
  unsetenv("BFS_TRACE_DIR");
  unsetenv("BFS_TRACE_OUT");
  unsetenv("BFS_TRACE_AUTOSTART");
  if (start) bfs_trace_begin();
}
