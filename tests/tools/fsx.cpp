// fsx.cpp - a random-operation file model tester in the spirit of xfstests' fsx.
//
// It runs a seeded random sequence of write (holes included), truncate (grow and
// shrink), read, append (O_APPEND), close + reopen (sometimes O_TRUNC or
// O_APPEND), fsync, stat, unlink while open (the file then lives on through
// its descriptor only: reads, writes, truncates and fstat go on, and at its
// close or a remount it must be gone for good) and, with --remount-cmd,
// "close everything, remount, verify every file" on a few files in DIR, and
// keeps the expected content of each file in memory. Every read is compared byte for byte with that shadow,
// every file is verified whole after each remount and at the end. The first
// difference stops the run: it prints the seed, the op number, the last ops and
// the first differing offset, and exits 1. The same seed and options replay the
// same operations. Standalone: only the C++ standard library and POSIX.
//
// Usage: see usage() below and tests/tools/README.md.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr size_t kLogOps = 50;  // ops shown on failure

struct Options {
  uint64_t seed = 0;
  bool seed_set = false;
  uint64_t ops = 10000;
  size_t maxsize = 256 * 1024;
  size_t maxlen = 64 * 1024;
  int files = 4;
  std::string remount_cmd;
  uint64_t remount_every = 500;  // mean ops between remounts
  std::string prefix = "fsx";
  std::set<std::string> disabled;
  bool corrupt = false;  // --self-test-corrupt
  bool verbose = false;
  bool keep = false;
  std::string dir;
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: fsx [options] DIR\n"
               "  --seed N            seed (default: from the clock; printed first)\n"
               "  --ops N             operations to run (10000)\n"
               "  --maxsize BYTES     largest file size (262144)\n"
               "  --maxlen BYTES      largest single write/read (65536)\n"
               "  --files N           files used at once (4)\n"
               "  --remount-cmd CMD   sh command that unmounts and remounts DIR; then every\n"
               "                      file is verified whole\n"
               "  --remount-every N   mean ops between remounts (500; each gap N/2..3N/2)\n"
               "  --prefix NAME       file names are DIR/NAME.<i> (fsx)\n"
               "  --disable OP[,OP]   skip ops: write,read,truncate,append,reopen,fsync,stat,unlink\n"
               "  --self-test-corrupt flip a byte behind fsx's back half-way: the run must fail\n"
               "  --keep              keep the files after a successful run\n"
               "  --verbose           print every op\n"
               "Exit: 0 all ops matched, 1 a mismatch or an I/O error, 2 bad usage.\n");
}

uint64_t parse_size(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 0);
  if (errno != 0 || end == v.c_str() || v[0] == '-') {
    std::fprintf(stderr, "fsx: %s: not a number: '%s'\n", flag.c_str(), v.c_str());
    std::exit(2);
  }
  uint64_t mult = 1;
  std::string suffix(end);
  if (suffix == "k" || suffix == "K")
    mult = 1024;
  else if (suffix == "m" || suffix == "M")
    mult = 1024 * 1024;
  else if (!suffix.empty()) {
    std::fprintf(stderr, "fsx: %s: bad suffix in '%s'\n", flag.c_str(), v.c_str());
    std::exit(2);
  }
  return n * mult;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "fsx: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--seed") {
      o.seed = parse_size(a, value());
      o.seed_set = true;
    } else if (a == "--ops") {
      o.ops = parse_size(a, value());
    } else if (a == "--maxsize") {
      o.maxsize = parse_size(a, value());
    } else if (a == "--maxlen") {
      o.maxlen = parse_size(a, value());
    } else if (a == "--files") {
      o.files = static_cast<int>(parse_size(a, value()));
    } else if (a == "--remount-cmd") {
      o.remount_cmd = value();
    } else if (a == "--remount-every") {
      o.remount_every = parse_size(a, value());
    } else if (a == "--prefix") {
      o.prefix = value();
    } else if (a == "--disable") {
      std::stringstream ss(value());
      for (std::string op; std::getline(ss, op, ',');) o.disabled.insert(op);
    } else if (a == "--self-test-corrupt") {
      o.corrupt = true;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "fsx: unknown option %s\n", a.c_str());
      usage(stderr);
      std::exit(2);
    } else if (o.dir.empty()) {
      o.dir = a;
    } else {
      std::fprintf(stderr, "fsx: one DIR only\n");
      std::exit(2);
    }
  }
  if (o.dir.empty()) {
    usage(stderr);
    std::exit(2);
  }
  if (o.files < 1 || o.files > 1000 || o.maxsize < 1 || o.maxlen < 1 || o.remount_every < 1 ||
      o.prefix.find('/') != std::string::npos) {
    std::fprintf(stderr,
                 "fsx: need 1 <= --files <= 1000, --maxsize, --maxlen, --remount-every >= 1, "
                 "a --prefix without '/'\n");
    std::exit(2);
  }
  if (!o.seed_set) {
    o.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             (static_cast<uint64_t>(getpid()) << 32);
    o.seed %= 1000000000000ULL;  // short enough to retype
  }
  return o;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Deterministic across platforms and library versions (unlike std::uniform_int_distribution).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++); }
  // uniform in [0, n); n > 0
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool percent(unsigned p) { return below(100) < p; }

 private:
  uint64_t state_;
};

// bytes of a write: a function of (tag, position), so logs stay small
void fill(unsigned char* p, size_t n, uint64_t tag) {
  for (size_t i = 0; i < n; i++) p[i] = static_cast<unsigned char>(splitmix64(tag + i / 8) >> (8 * (i % 8)));
}

struct File {
  std::string path;
  int fd = -1;
  bool append = false;    // fd was opened with O_APPEND
  bool unlinked = false;  // unlinked while open: only fd reaches it
  std::vector<unsigned char> shadow;
};

class Fsx {
 public:
  explicit Fsx(Options o) : opt_(std::move(o)), rng_(opt_.seed) {}

  int run() {
    std::printf("fsx: seed %llu, %llu ops, %d files, maxsize %zu, dir %s\n",
                static_cast<unsigned long long>(opt_.seed), static_cast<unsigned long long>(opt_.ops), opt_.files,
                opt_.maxsize, opt_.dir.c_str());
    std::fflush(stdout);
    for (int i = 0; i < opt_.files; i++) {
      File f;
      f.path = opt_.dir + "/" + opt_.prefix + "." + std::to_string(i);
      files_.push_back(std::move(f));
    }
    for (auto& f : files_) open_file(f, O_RDWR | O_CREAT | O_TRUNC);
    const uint64_t corrupt_at = opt_.ops / 2 + 1;
    for (op_ = 1; op_ <= opt_.ops; op_++) {
      if (opt_.corrupt && op_ == corrupt_at) corrupt_behind_back();
      step();
    }
    op_ = opt_.ops;
    for (auto& f : files_) close_file(f);
    for (auto& f : files_) verify_whole(f, "final check");
    if (!opt_.keep) {
      for (auto& f : files_) {
        if (!f.unlinked && unlink(f.path.c_str()) != 0) sys_fail("unlink " + f.path);
      }
    }
    std::printf("fsx: %llu ops, %d files, seed %llu: OK\n", static_cast<unsigned long long>(opt_.ops), opt_.files,
                static_cast<unsigned long long>(opt_.seed));
    return 0;
  }

 private:
  void step() {
    // Remounts come every remount_every ops on average, each gap drawn from
    // [every/2, 3*every/2], so a run of ops ops remounts at least
    // ops / (3*every/2) times whatever the seed.
    if (!opt_.remount_cmd.empty()) {
      if (until_remount_ == 0) until_remount_ = opt_.remount_every / 2 + 1 + rng_.below(opt_.remount_every);
      if (--until_remount_ == 0) return op_remount();
    }
    File& f = files_[rng_.below(files_.size())];
    struct Choice {
      const char* name;
      unsigned weight;
      void (Fsx::*fn)(File&);
    };
    static const Choice choices[] = {
        {"write", 30, &Fsx::op_write},  {"read", 25, &Fsx::op_read},    {"truncate", 8, &Fsx::op_truncate},
        {"append", 8, &Fsx::op_append}, {"reopen", 8, &Fsx::op_reopen}, {"fsync", 5, &Fsx::op_fsync},
        {"stat", 6, &Fsx::op_stat},     {"unlink", 2, &Fsx::op_unlink},
    };
    unsigned total = 0;
    for (const auto& c : choices) total += opt_.disabled.count(c.name) ? 0 : c.weight;
    if (total == 0) return note("nothing enabled");
    uint64_t r = rng_.below(total);
    for (const auto& c : choices) {
      if (opt_.disabled.count(c.name)) continue;
      if (r < c.weight) return (this->*c.fn)(f);
      r -= c.weight;
    }
  }

  // --- operations ---

  void op_write(File& f) {
    const size_t size = f.shadow.size();
    uint64_t off;
    uint64_t pick = rng_.below(100);
    if (pick < 60)
      off = rng_.below(std::max<size_t>(size, 1));  // inside the file
    else if (pick < 85)
      off = size + rng_.below(4096);  // just past EOF: small hole
    else
      off = rng_.below(opt_.maxsize);  // anywhere: big hole
    size_t len = 1 + rng_.below(opt_.maxlen);
    if (rng_.percent(30)) {  // block-aligned I/O hits other code paths
      off &= ~uint64_t{4095};
      len = std::max<size_t>(4096, len & ~size_t{4095});
    }
    const uint64_t tag = rng_.next();
    if (off >= opt_.maxsize) off = opt_.maxsize - 1;
    len = std::min<size_t>(len, opt_.maxsize - off);
    std::vector<unsigned char> buf(len);
    fill(buf.data(), len, tag);
    if (f.append) {
      if (size >= opt_.maxsize) return op_truncate(f);
      len = std::min<size_t>(len, opt_.maxsize - size);
      buf.resize(len);
      // with O_APPEND every write lands at EOF whatever the offset (pwrite too, on Linux)
      note("write(O_APPEND fd) " + f.path + " len=" + std::to_string(len) + " at eof=" + std::to_string(size));
      write_all(f, f.fd, buf.data(), len, -1);
      f.shadow.insert(f.shadow.end(), buf.begin(), buf.end());
      return;
    }
    note("write " + f.path + " off=" + std::to_string(off) + " len=" + std::to_string(len) +
         " size=" + std::to_string(size) + (off > size ? " (hole)" : ""));
    write_all(f, f.fd, buf.data(), len, static_cast<off_t>(off));
    if (f.shadow.size() < off + len) f.shadow.resize(off + len, 0);
    std::copy(buf.begin(), buf.end(), f.shadow.begin() + static_cast<std::ptrdiff_t>(off));
  }

  void op_append(File& f) {
    if (f.unlinked) return op_write(f);  // no path to open any more
    const size_t size = f.shadow.size();
    if (size >= opt_.maxsize) return op_truncate(f);
    size_t len = std::min<size_t>(1 + rng_.below(opt_.maxlen), opt_.maxsize - size);
    const uint64_t tag = rng_.next();
    std::vector<unsigned char> buf(len);
    fill(buf.data(), len, tag);
    note("append(new O_APPEND fd) " + f.path + " len=" + std::to_string(len) + " size=" + std::to_string(size));
    int fd = open(f.path.c_str(), O_WRONLY | O_APPEND);
    if (fd < 0) sys_fail("open O_APPEND " + f.path);
    write_all(f, fd, buf.data(), len, -1);
    if (close(fd) != 0) sys_fail("close O_APPEND fd of " + f.path);
    f.shadow.insert(f.shadow.end(), buf.begin(), buf.end());
  }

  void op_truncate(File& f) {
    const size_t size = f.shadow.size();
    size_t to = rng_.percent(50) ? rng_.below(size + 1)
                                 : size + rng_.below(opt_.maxsize - std::min(size, opt_.maxsize) + 1);
    to = std::min(to, opt_.maxsize);
    note("truncate " + f.path + " " + std::to_string(size) + " -> " + std::to_string(to) +
         (to > size   ? " (grow)"
          : to < size ? " (shrink)"
                      : ""));
    if (ftruncate(f.fd, static_cast<off_t>(to)) != 0) sys_fail("ftruncate " + f.path);
    f.shadow.resize(to, 0);
  }

  void op_read(File& f) {
    const size_t size = f.shadow.size();
    uint64_t off = rng_.below(size + 1024);
    if (rng_.percent(20)) off &= ~uint64_t{4095};
    size_t len = 1 + rng_.below(opt_.maxlen);
    note("read " + f.path + " off=" + std::to_string(off) + " len=" + std::to_string(len) +
         " size=" + std::to_string(size));
    std::vector<unsigned char> got(len);
    size_t n = read_all(f, f.fd, got.data(), len, off);
    compare(f, off, got.data(), n, len, "read");
  }

  void op_reopen(File& f) {
    uint64_t r = rng_.below(100);
    int flags = O_RDWR;
    if (r < 20)
      flags |= O_TRUNC;
    else if (r < 30)
      flags |= O_APPEND;
    note("close+reopen " + f.path + ((flags & O_TRUNC) ? " O_TRUNC" : (flags & O_APPEND) ? " O_APPEND" : ""));
    close_file(f);
    if (f.unlinked) return recreate(f, "closed after unlink");
    open_file(f, flags);
    if (flags & O_TRUNC) f.shadow.clear();
  }

  // unlink while open: the name goes at once, the file lives on through f.fd
  void op_unlink(File& f) {
    if (f.unlinked) return op_read(f);
    note("unlink (still open) " + f.path + " size=" + std::to_string(f.shadow.size()));
    if (unlink(f.path.c_str()) != 0) sys_fail("unlink " + f.path);
    f.unlinked = true;
    struct stat st {};
    if (stat(f.path.c_str(), &st) == 0 || errno != ENOENT) {
      fail_header("stat after unlink: " + f.path + " still has a name");
      finish_fail();
    }
    if (fstat(f.fd, &st) != 0) sys_fail("fstat after unlink " + f.path);
    check_size(f, st.st_size, "fstat after unlink");
  }

  // An unlinked file whose last descriptor closed is gone for good (not
  // brought back by its upload); a new empty file takes its name.
  void recreate(File& f, const char* when) {
    struct stat st {};
    if (stat(f.path.c_str(), &st) == 0 || errno != ENOENT) {
      fail_header(std::string(when) + ": unlinked " + f.path + " came back (size " + std::to_string(st.st_size) +
                  ")");
      finish_fail();
    }
    note("recreate " + f.path + " (" + when + ")");
    f.unlinked = false;
    f.shadow.clear();
    open_file(f, O_RDWR | O_CREAT | O_EXCL);
  }

  void op_fsync(File& f) {
    note("fsync " + f.path);
    if (fsync(f.fd) != 0) sys_fail("fsync " + f.path);
  }

  void op_stat(File& f) {
    note("stat " + f.path + " size=" + std::to_string(f.shadow.size()));
    struct stat st {};
    if (fstat(f.fd, &st) != 0) sys_fail("fstat " + f.path);
    check_size(f, st.st_size, "fstat");
    if (f.unlinked) return;
    if (stat(f.path.c_str(), &st) != 0) sys_fail("stat " + f.path);
    check_size(f, st.st_size, "stat");
  }

  void op_remount() {
    note("remount: close all, run --remount-cmd, verify all");
    for (auto& f : files_) close_file(f);
    int st = std::system(opt_.remount_cmd.c_str());
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::string how = st == -1          ? "could not run"
                        : WIFEXITED(st)   ? "exit " + std::to_string(WEXITSTATUS(st))
                        : WIFSIGNALED(st) ? "signal " + std::to_string(WTERMSIG(st))
                                          : "status " + std::to_string(st);
      fail_header("--remount-cmd failed (" + how + "): " + opt_.remount_cmd);
      finish_fail();
    }
    remounts_++;
    for (auto& f : files_) {
      if (f.unlinked)
        recreate(f, "after remount");
      else {
        verify_whole(f, "after remount");
        open_file(f, O_RDWR);
      }
    }
  }

  // The self-test: change a byte without telling the shadow. A separate rng keeps the
  // op sequence the same as a normal run with this seed.
  void corrupt_behind_back() {
    File* victim = nullptr;
    for (auto& f : files_) {
      if (!f.shadow.empty()) {
        victim = &f;
        break;
      }
    }
    int fd = open((victim ? victim : &files_[0])->path.c_str(), O_RDWR);
    if (fd < 0) sys_fail("self-test open");
    if (victim) {
      const off_t at = static_cast<off_t>(victim->shadow.size() / 2);
      unsigned char b = static_cast<unsigned char>(victim->shadow[static_cast<size_t>(at)] ^ 0x5a);
      if (pwrite(fd, &b, 1, at) != 1) sys_fail("self-test pwrite");
      std::fprintf(stderr, "fsx: --self-test-corrupt: flipped the byte at %s offset %lld before op %llu\n",
                   victim->path.c_str(), static_cast<long long>(at), static_cast<unsigned long long>(op_));
    } else {
      unsigned char b = 0x5a;
      if (pwrite(fd, &b, 1, 0) != 1) sys_fail("self-test pwrite");
      std::fprintf(stderr, "fsx: --self-test-corrupt: wrote a byte into empty %s before op %llu\n",
                   files_[0].path.c_str(), static_cast<unsigned long long>(op_));
    }
    if (close(fd) != 0) sys_fail("self-test close");
    // Read the spot back through fsx's own fd: later ops could overwrite it, and
    // the self-test must show that a difference is caught, not hope for it.
    File& f = victim ? *victim : files_[0];
    const uint64_t at = victim ? victim->shadow.size() / 2 : 0;
    const uint64_t off = at >= 100 ? at - 100 : 0;
    note("read (self-test) " + f.path + " off=" + std::to_string(off) + " len=4096");
    std::vector<unsigned char> got(4096);
    size_t n = read_all(f, f.fd, got.data(), got.size(), off);
    compare(f, off, got.data(), n, got.size(), "read after --self-test-corrupt");
  }

  // --- I/O helpers ---

  void open_file(File& f, int flags) {
    f.fd = open(f.path.c_str(), flags | O_CLOEXEC, 0644);
    if (f.fd < 0) sys_fail("open " + f.path);
    f.append = (flags & O_APPEND) != 0;
  }

  void close_file(File& f) {
    if (f.fd < 0) return;
    int fd = f.fd;
    f.fd = -1;
    // close(2) reports what flush found (bucketfs commits the upload there)
    if (close(fd) != 0) sys_fail("close " + f.path);
  }

  // off < 0: write() at the fd's position (O_APPEND fds)
  void write_all(File& f, int fd, const unsigned char* p, size_t n, off_t off) {
    while (n > 0) {
      ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) sys_fail("write " + f.path);
      p += w;
      n -= static_cast<size_t>(w);
      if (off >= 0) off += w;
    }
  }

  size_t read_all(File& f, int fd, unsigned char* p, size_t n, uint64_t off) {
    size_t done = 0;
    while (done < n) {
      ssize_t r = pread(fd, p + done, n - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) sys_fail("pread " + f.path);
      if (r == 0) break;  // EOF
      done += static_cast<size_t>(r);
    }
    return done;
  }

  void verify_whole(File& f, const char* when) {
    if (f.unlinked) {
      struct stat st {};
      if (stat(f.path.c_str(), &st) == 0 || errno != ENOENT) {
        fail_header(std::string(when) + ": unlinked " + f.path + " came back");
        finish_fail();
      }
      return;
    }
    note(std::string("verify whole ") + f.path + " (" + when + ") size=" + std::to_string(f.shadow.size()));
    int fd = open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) sys_fail(std::string("open for ") + when + " " + f.path);
    struct stat st {};
    if (fstat(fd, &st) != 0) sys_fail("fstat " + f.path);
    check_size(f, st.st_size, when);
    std::vector<unsigned char> got(f.shadow.size() + 1);  // +1: a longer file shows as a difference
    size_t n = read_all(f, fd, got.data(), got.size(), 0);
    if (close(fd) != 0) sys_fail("close " + f.path);
    compare(f, 0, got.data(), n, got.size(), when);
  }

  void check_size(File& f, off_t size, const char* what) {
    if (static_cast<uint64_t>(size) == f.shadow.size()) return;
    fail_header(std::string(what) + ": " + f.path + " has size " + std::to_string(size) + ", expected " +
                std::to_string(f.shadow.size()));
    finish_fail();
  }

  // got[0..n) came from reading `asked` bytes at off: it must be exactly what the
  // shadow holds there, as many bytes as the file has up to EOF
  void compare(File& f, uint64_t off, const unsigned char* got, size_t n, size_t asked, const char* what) {
    const size_t size = f.shadow.size();
    const size_t expect_n = off >= size ? 0 : std::min<size_t>(asked, size - off);
    const size_t common = std::min(n, expect_n);
    for (size_t i = 0; i < common; i++) {
      if (got[i] != f.shadow[off + i]) mismatch(f, off, got, n, off + i, what);
    }
    if (n != expect_n) mismatch(f, off, got, n, off + common, what);
  }

  [[noreturn]] void mismatch(File& f, uint64_t off, const unsigned char* got, size_t n, uint64_t at,
                             const char* what) {
    const size_t size = f.shadow.size();
    fail_header(std::string(what) + ": " + f.path + ": data differs from the model");
    std::printf("fsx: first differing offset %llu (0x%llx); file size per model %zu; read %zu bytes at %llu\n",
                static_cast<unsigned long long>(at), static_cast<unsigned long long>(at), size, n,
                static_cast<unsigned long long>(off));
    auto dump = [&](const char* label, auto byte_at, uint64_t end) {
      std::printf("fsx: %-9s", label);
      for (uint64_t p = at; p < at + 16; p++) {
        if (p < end)
          std::printf(" %02x", byte_at(p));
        else
          std::printf(" --");
      }
      std::printf("   (from offset %llu; -- = past the end)\n", static_cast<unsigned long long>(at));
    };
    dump(
        "expected", [&](uint64_t p) { return static_cast<unsigned>(f.shadow[p]); }, size);
    dump(
        "got", [&](uint64_t p) { return static_cast<unsigned>(got[p - off]); }, off + n);
    finish_fail();
  }

  [[noreturn]] void sys_fail(const std::string& what) {
    const int e = errno;
    fail_header(what + ": " + std::strerror(e) + " (errno " + std::to_string(e) + ")");
    finish_fail();
  }

  void fail_header(const std::string& what) {
    std::fflush(stdout);
    std::printf("fsx: FAILED at op %llu of %llu, seed %llu: %s\n", static_cast<unsigned long long>(op_),
                static_cast<unsigned long long>(opt_.ops), static_cast<unsigned long long>(opt_.seed),
                what.c_str());
  }

  [[noreturn]] void finish_fail() {
    std::printf("fsx: last %zu ops (newest last):\n", log_.size());
    for (const auto& l : log_) std::printf("  %s\n", l.c_str());
    std::printf("fsx: replay: fsx --seed %llu --ops %llu --maxsize %zu --maxlen %zu --files %d%s%s DIR\n",
                static_cast<unsigned long long>(opt_.seed), static_cast<unsigned long long>(opt_.ops),
                opt_.maxsize, opt_.maxlen, opt_.files, opt_.remount_cmd.empty() ? "" : " --remount-cmd ...",
                opt_.corrupt ? " --self-test-corrupt" : "");
    std::printf("fsx: files left in %s for inspection\n", opt_.dir.c_str());
    std::fflush(stdout);
    std::exit(1);
  }

  void note(const std::string& s) {
    std::string line = "#" + std::to_string(op_) + " " + s;
    if (opt_.verbose) std::printf("%s\n", line.c_str());
    log_.push_back(std::move(line));
    if (log_.size() > kLogOps) log_.pop_front();
  }

  Options opt_;
  Rng rng_;
  std::vector<File> files_;
  std::deque<std::string> log_;
  uint64_t op_ = 0;
  uint64_t remounts_ = 0;
  uint64_t until_remount_ = 0;  // ops left before the next remount (0: draw a gap)
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  struct stat st {};
  if (stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "fsx: %s is not a directory\n", o.dir.c_str());
    return 2;
  }
  Fsx fsx(std::move(o));
  return fsx.run();
}
