// workload.cpp - see workload.hpp.
#include "workload.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <random>

#include "expectations.hpp"
#include "trace_log.hpp"

namespace crash {
namespace {

using namespace bucketfs;

constexpr const char* kDirs[] = {"d0", "d1", "d2"};
constexpr mode_t kModes[] = {0600, 0640, 0644, 0664, 0755};

class Runner {
 public:
  Runner(fs::Filesystem& fs, const WorkloadConfig& cfg) : fs_(fs), cfg_(cfg), rng_(cfg.seed * 7919 + 17) {}
  std::string run();

 private:
  enum class Write { Create, Trunc, Rewrite, Append };
  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  uint64_t pick_size();
  std::string pick_file() {
    auto it = files_.begin();
    std::advance(it, static_cast<long>(pick(files_.size())));
    return it->first;
  }
  std::string fresh_name();
  int resolve(const std::string& path, fs::Ino* ino);
  int split(const std::string& path, fs::Ino* parent, std::string* name);
  std::string version(fs::Ino ino, const std::string& content, bool any_mtime = false);
  int request(const std::string& fields, const std::function<int()>& call);
  void check(int rc, const std::string& what);
  // A file the workload closed is not there (a bucketfs bug outside any
  // crash): noted, and the workload goes on without it.
  void vanished(const std::string& path, int rc);

  void write_session(const std::string& path, Write how, bool with_fsync, bool with_chmod);
  void rename_file(const std::string& from, const std::string& to);
  void rename_dir(const std::string& from, const std::string& to);
  void unlink(const std::string& path);
  void chmod(const std::string& path);
  void fsyncdir(const std::string& dir);
  void one_op();

  fs::Filesystem& fs_;
  WorkloadConfig cfg_;
  std::mt19937_64 rng_;
  std::map<std::string, std::string> files_;  // path -> content of its last closed version
  std::vector<std::string> dirs_{"d0", "d1", "d2"};
  int next_req_ = 1;
  int next_name_ = 0;
  uint64_t data_seq_ = 0;
  std::string error_;

 public:
  std::vector<std::string> anomalies_;
};

uint64_t Runner::pick_size() {
  uint64_t r = pick(100);
  if (r < 45) return pick(16 * 1024 + 1);
  if (r < 80) return 16 * 1024 + pick(112 * 1024);
  return 128 * 1024 + pick(cfg_.max_size - 128 * 1024);
}

std::string Runner::fresh_name() {
  for (;;) {
    std::string p = dirs_[pick(dirs_.size())] + "/n" + std::to_string(next_name_++);
    if (!files_.count(p)) return p;
  }
}

int Runner::split(const std::string& path, fs::Ino* parent, std::string* name) {
  auto s = path.rfind('/');
  *name = s == std::string::npos ? path : path.substr(s + 1);
  if (s == std::string::npos) {
    *parent = fs::kRootIno;
    return 0;
  }
  return resolve(path.substr(0, s), parent);
}

int Runner::resolve(const std::string& path, fs::Ino* ino) {
  fs::Ino cur = fs::kRootIno;
  size_t pos = 0;
  while (pos <= path.size() && !path.empty()) {
    size_t s = path.find('/', pos);
    std::string comp = path.substr(pos, s == std::string::npos ? std::string::npos : s - pos);
    fs::Entry e;
    if (int rc = fs_.lookup(cur, comp, &e)) return rc;
    cur = e.ino;
    if (s == std::string::npos) break;
    pos = s + 1;
  }
  *ino = cur;
  return 0;
}

std::string Runner::version(fs::Ino ino, const std::string& content, bool any_mtime) {
  struct stat st {};
  double ttl = 0;
  if (int rc = fs_.getattr(ino, &st, &ttl)) check(rc, "getattr");
  return EventLog::kv("sha", sha256_hex(content)) + EventLog::kv("size", std::to_string(content.size())) +
         EventLog::kv("mode", std::to_string(st.st_mode)) + EventLog::kv("uid", std::to_string(st.st_uid)) +
         EventLog::kv("gid", std::to_string(st.st_gid)) +
         EventLog::kv("mtime", any_mtime ? "*" : std::to_string(st.st_mtim.tv_sec));
}

// One FUSE request: its begin event, the call, its answer.
int Runner::request(const std::string& fields, const std::function<int()>& call) {
  const std::string id = std::to_string(next_req_++);
  EventLog::emit("fuse begin" + EventLog::kv("id", id) + fields);
  int rc = call();
  EventLog::emit("fuse end" + EventLog::kv("id", id) + EventLog::kv("rc", std::to_string(rc)));
  return rc;
}

void Runner::check(int rc, const std::string& what) {
  if (rc != 0 && error_.empty()) error_ = what + " failed: errno " + std::to_string(rc);
}

void Runner::vanished(const std::string& path, int rc) {
  EventLog::emit("anomaly" + EventLog::kv("path", path) + EventLog::kv("rc", std::to_string(rc)));
  anomalies_.push_back(path + " (errno " + std::to_string(rc) + ")");
  files_.erase(path);
}

void Runner::write_session(const std::string& path, Write how, bool with_fsync, bool with_chmod) {
  fs::Ino ino = 0;
  uint64_t fh = 0;
  std::string content = (how == Write::Create || how == Write::Trunc) ? "" : files_[path];
  if (how == Write::Create) {
    fs::Ino parent;
    std::string name;
    fs::Entry e;
    fs::Context ctx{cfg_.uid, cfg_.gid, 022};
    if (int rc = split(path, &parent, &name); rc != 0) return check(rc, "lookup of the parent of " + path);
    if (int rc = fs_.create(parent, name, S_IFREG | 0644, O_WRONLY | O_CREAT | O_TRUNC, ctx, &e, &fh); rc != 0)
      return check(rc, "create " + path);
    ino = e.ino;
  } else {
    if (int rc = resolve(path, &ino); rc != 0) return vanished(path, rc);
    int flags = O_WRONLY | (how == Write::Trunc ? O_TRUNC : 0) | (how == Write::Append ? O_APPEND : 0);
    if (int rc = fs_.open(ino, flags, &fh); rc != 0) return check(rc, "open " + path);
  }
  auto put = [&](uint64_t off, const std::string& data) {
    size_t n = 0;
    if (int rc = fs_.write(fh, off, data.data(), data.size(), &n); rc != 0 || n != data.size())
      return check(rc ? rc : EIO, "write " + path);
    if (content.size() < off + data.size()) content.resize(off + data.size(), '\0');
    content.replace(off, data.size(), data);
  };
  auto write_some = [&](uint64_t total) {
    std::string data = make_bytes(cfg_.seed * 1000003 + ++data_seq_, total);
    for (uint64_t done = 0; done < total;) {
      uint64_t n = std::min<uint64_t>(total - done, 4096 + pick(128 * 1024));
      uint64_t at = how == Write::Rewrite ? pick(content.size() + 1) : content.size();
      put(at, data.substr(done, n));
      done += n;
    }
  };
  write_some(how == Write::Rewrite || how == Write::Append ? 1 + pick(96 * 1024) : pick_size());
  if (with_chmod) {
    // A metadata change while the writer is open (finding 7 of issue 11),
    // after a close of one of its descriptors committed what was written (a
    // flush with the handle still open, as a shell's dup2 dance does).
    int rc = request(EventLog::kv("op", "close") + EventLog::kv("path", path) + version(ino, content),
                     [&] { return fs_.flush(fh); });
    check(rc, "close (flush) " + path);
    if (rc == 0) files_[path] = content;
    const mode_t mode = S_IFREG | kModes[pick(std::size(kModes))];
    fs::SetAttr ch;
    ch.valid = fs::SetAttr::kMode;
    ch.mode = mode;
    struct stat st {};
    double ttl = 0;
    std::string v = version(ino, files_.count(path) ? files_[path] : "", true);
    v = v.substr(0, v.find(" mode=")) + EventLog::kv("mode", std::to_string(mode)) + v.substr(v.find(" uid="));
    request(EventLog::kv("op", "chmod") + EventLog::kv("path", path) + EventLog::kv("writer", "1") + v,
            [&] { return fs_.setattr(ino, ch, &st, &ttl); });
    write_some(1 + pick(32 * 1024));
  }
  if (with_fsync) {
    int rc = request(EventLog::kv("op", "fsync") + EventLog::kv("path", path) + version(ino, content),
                     [&] { return fs_.fsync(fh, false); });
    check(rc, "fsync " + path);
    if (rc == 0) files_[path] = content;
    if (pick(2)) write_some(1 + pick(32 * 1024));
  }
  int rc = request(EventLog::kv("op", "close") + EventLog::kv("path", path) + version(ino, content),
                   [&] { return fs_.flush(fh); });
  check(rc, "close " + path);
  if (rc == 0) files_[path] = content;
  fs_.release(fh);
}

void Runner::rename_file(const std::string& from, const std::string& to) {
  fs::Ino p1, p2;
  std::string n1, n2;
  if (int rc = split(from, &p1, &n1); rc != 0) return check(rc, "lookup of the directory of " + from);
  if (int rc = split(to, &p2, &n2); rc != 0) return check(rc, "lookup of the directory of " + to);
  int rc = request(EventLog::kv("op", "rename") + EventLog::kv("path", from) + EventLog::kv("to", to),
                   [&] { return fs_.rename(p1, n1, p2, n2, 0); });
  if (rc == ENOENT) return vanished(from, rc);
  check(rc, "rename " + from + " " + to);
  if (rc != 0) return;
  files_[to] = files_[from];
  files_.erase(from);
}

void Runner::rename_dir(const std::string& from, const std::string& to) {
  int rc = request(EventLog::kv("op", "rename") + EventLog::kv("path", from) + EventLog::kv("to", to) +
                       EventLog::kv("dir", "1"),
                   [&] { return fs_.rename(fs::kRootIno, from, fs::kRootIno, to, 0); });
  check(rc, "rename of directory " + from);
  if (rc != 0) return;
  std::map<std::string, std::string> moved;
  for (auto& [p, c] : files_)
    moved[p.compare(0, from.size() + 1, from + "/") == 0 ? to + p.substr(from.size()) : p] = c;
  files_.swap(moved);
  std::replace(dirs_.begin(), dirs_.end(), from, to);
}

void Runner::unlink(const std::string& path) {
  fs::Ino parent;
  std::string name;
  if (int rc = split(path, &parent, &name); rc != 0) return check(rc, "lookup for unlink");
  int rc =
      request(EventLog::kv("op", "unlink") + EventLog::kv("path", path), [&] { return fs_.unlink(parent, name); });
  if (rc == ENOENT) return vanished(path, rc);
  check(rc, "unlink " + path);
  if (rc == 0) files_.erase(path);
}

void Runner::chmod(const std::string& path) {
  fs::Ino ino;
  if (int rc = resolve(path, &ino); rc != 0) return vanished(path, rc);
  const mode_t mode = S_IFREG | kModes[pick(std::size(kModes))];
  std::string v = version(ino, files_[path]);
  v = v.substr(0, v.find(" mode=")) + EventLog::kv("mode", std::to_string(mode)) + v.substr(v.find(" uid="));
  fs::SetAttr ch;
  ch.valid = fs::SetAttr::kMode;
  ch.mode = mode;
  struct stat st {};
  double ttl = 0;
  int rc = request(EventLog::kv("op", "chmod") + EventLog::kv("path", path) + EventLog::kv("writer", "0") + v,
                   [&] { return fs_.setattr(ino, ch, &st, &ttl); });
  check(rc, "chmod " + path);
}

void Runner::fsyncdir(const std::string& dir) {
  fs::Ino ino;
  uint64_t fh = 0;
  if (resolve(dir, &ino) != 0 || fs_.opendir(ino, &fh) != 0) return;
  request(EventLog::kv("op", "fsyncdir") + EventLog::kv("path", dir), [&] { return fs_.fsyncdir(ino); });
  fs_.releasedir(fh);
}

void Runner::one_op() {
  const uint64_t r = pick(100);
  const std::string f = pick_file();
  if (r < 20) return write_session(f, Write::Trunc, false, false);
  if (r < 28) return write_session(f, Write::Rewrite, false, false);
  if (r < 36) return write_session(f, Write::Append, false, false);
  if (r < 44) return rename_file(f, fresh_name());
  if (r < 49) {
    std::string g = pick_file();
    if (g != f) rename_file(f, g);
    return;
  }
  if (r < 51) {
    // A directory holding pending files gets a new name (and keeps it).
    std::string d = dirs_[pick(dirs_.size())];
    if (cfg_.dir_renames) rename_dir(d, d + "r");
    return;
  }
  if (r < 59) {
    if (files_.size() > 8) unlink(f);
    return write_session(fresh_name(), Write::Create, false, false);
  }
  if (r < 66) return chmod(f);
  if (r < 70) return write_session(f, Write::Rewrite, false, true);
  if (r < 77) {
    write_session(f, Write::Rewrite, pick(2) == 0, false);
    return write_session(f, Write::Trunc, true, false);
  }
  if (r < 80) return fsyncdir(dirs_[pick(dirs_.size())]);
  if (r < 86) {
    // Two overwrites back to back: the second close supersedes an upload in flight.
    write_session(f, Write::Trunc, false, false);
    return write_session(f, Write::Trunc, false, false);
  }
  return write_session(fresh_name(), Write::Create, false, false);
}

std::string Runner::run() {
  // The "keep" objects are never touched: they must still be there at the end.
  for (const auto& o : initial_objects(cfg_))
    if (o.key.find("keep") == std::string::npos) files_[o.key] = o.data;
  for (const char* d : {"d1", "d2"}) {
    fs::Entry e;
    fs::Context ctx{cfg_.uid, cfg_.gid, 022};
    check(fs_.mkdir(fs::kRootIno, d, 0755, ctx, &e), std::string("mkdir ") + d);
  }
  EventLog::emit("workload-start");
  // Every name gets a first version (overwriting the initial objects).
  std::vector<std::string> names;
  for (int i = 0; i < cfg_.files; ++i) names.push_back(std::string(kDirs[i % 3]) + "/f" + std::to_string(i));
  for (const auto& o : initial_objects(cfg_)) names.push_back(o.key);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const auto& n : names)
    if (n.find("keep") == std::string::npos)
      write_session(n, files_.count(n) ? Write::Trunc : Write::Create, false, false);
  for (int i = 0; i < cfg_.ops && error_.empty(); ++i) one_op();
  EventLog::emit("workload-end");
  return error_;
}

}  // namespace

std::string make_bytes(uint64_t seed, size_t n) {
  std::string out(n, '\0');
  uint64_t x = seed ^ 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(z >> (8 * j));
  }
  return out;
}

std::vector<InitialObject> initial_objects(const WorkloadConfig& cfg) {
  std::vector<InitialObject> out;
  std::mt19937_64 rng(cfg.seed * 31 + 5);
  for (const char* key : {"d0/f0", "d0/f3", "d0/f6", "r0", "r1", "d0/keep", "keep"}) {
    InitialObject o;
    o.key = key;
    o.data = make_bytes(cfg.seed * 7 + rng(), static_cast<size_t>(rng() % (300 * 1024)));
    o.meta = {{"mode", std::to_string(S_IFREG | 0644)},
              {"uid", std::to_string(cfg.uid)},
              {"gid", std::to_string(cfg.gid)},
              {"mtime", "1600000000"}};
    out.push_back(std::move(o));
  }
  return out;
}

std::string run_workload(fs::Filesystem& fs, const WorkloadConfig& cfg) {
  for (const auto& o : initial_objects(cfg)) {
    EventLog::emit("bucket-init" + EventLog::kv("key", o.key) + EventLog::kv("sha", sha256_hex(o.data)) +
                   EventLog::kv("size", std::to_string(o.data.size())) + EventLog::kv("mode", o.meta.at("mode")) +
                   EventLog::kv("uid", o.meta.at("uid")) + EventLog::kv("gid", o.meta.at("gid")) +
                   EventLog::kv("mtime", o.meta.at("mtime")));
  }
  Runner r(fs, cfg);
  std::string err = r.run();
  for (const auto& a : r.anomalies_)
    std::fprintf(stderr, "crash_check (recorded run): a closed file vanished without any crash: %s\n", a.c_str());
  return err;
}

}  // namespace crash
