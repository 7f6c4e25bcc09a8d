// fs_history.cpp - see fs_history.hpp.
#include "fs_history.hpp"

#include <cstdlib>

namespace crash {
namespace {

constexpr int kFallocKeepSize = 0x01;   // FALLOC_FL_KEEP_SIZE
constexpr int kFallocPunchHole = 0x02;  // FALLOC_FL_PUNCH_HOLE

std::string base_name(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string rel(const std::string& shim_path) { return shim_path == "." ? "" : shim_path; }

long to_id(const std::string& s) { return std::strtol(s.c_str(), nullptr, 10); }
// "SEC.NSEC" -> ns; -1 when absent.
int64_t to_mtime(const std::vector<std::string>& a, size_t i) {
  if (a.size() <= i) return -1;
  auto dot = a[i].find('.');
  int64_t sec = std::strtoll(a[i].c_str(), nullptr, 10);
  int64_t ns = dot == std::string::npos ? 0 : std::strtoll(a[i].c_str() + dot + 1, nullptr, 10);
  return sec * 1000000000 + ns;
}
uint64_t to_u64(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 10); }

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

// The namespace in log order, to know each op's parent directory and each
// file's current path and size.
struct Replay {
  std::map<std::string, long> ns;
  std::map<long, std::string> where;
  std::map<long, uint64_t> size;

  long parent_id(const std::string& path) const {
    auto it = ns.find(parent_of(path));
    return it == ns.end() ? 0 : it->second;
  }
  void add(const std::string& path, long id) {
    ns[path] = id;
    where[id] = path;
  }
  void rename(const std::string& from, const std::string& to) {
    auto it = ns.find(from);
    if (it == ns.end()) return;
    long id = it->second;
    std::vector<std::pair<std::string, long>> moved;
    for (auto i = ns.upper_bound(from); i != ns.end() && under(i->first, from); ++i)
      moved.emplace_back(to + i->first.substr(from.size()), i->second);
    for (auto i = ns.begin(); i != ns.end();)
      i = (i->first == from || under(i->first, from)) ? ns.erase(i) : std::next(i);
    for (auto i = ns.begin(); i != ns.end();) i = under(i->first, to) ? ns.erase(i) : std::next(i);
    add(to, id);
    for (auto& [p, child] : moved) add(p, child);
  }
};

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Create: return "create";
    case Kind::Mkdir: return "mkdir";
    case Kind::Link: return "link";
    case Kind::Unlink: return "unlink";
    case Kind::Rmdir: return "rmdir";
    case Kind::Rename: return "rename";
    case Kind::Write: return "write";
    case Kind::Extend: return "extend";
    case Kind::Trunc: return "truncate";
    case Kind::SetXattr: return "setxattr";
    case Kind::RemoveXattr: return "removexattr";
    case Kind::Fsync: return "fsync";
    case Kind::Fdatasync: return "fdatasync";
    case Kind::SyncAll: return "sync";
    case Kind::Event: return "event";
  }
  return "?";
}

bool Op::namespace_op() const {
  return kind == Kind::Create || kind == Kind::Mkdir || kind == Kind::Link || kind == Kind::Unlink ||
         kind == Kind::Rmdir || kind == Kind::Rename;
}
bool Op::file_op() const {
  return kind == Kind::Write || kind == Kind::Extend || kind == Kind::Trunc || kind == Kind::SetXattr ||
         kind == Kind::RemoveXattr;
}

std::string parent_of(const std::string& path) {
  auto s = path.rfind('/');
  return s == std::string::npos ? "" : path.substr(0, s);
}

bool History::volatile_name(const std::string& path) {
  const std::string b = base_name(path);
  return b == "lock.mdb" || (b == "lock" && base_name(parent_of(path)) == "checkpoint");
}

History History::build(const Trace& t) {
  History h;
  h.dir = t.dir();
  Replay r;
  std::set<long> vol;  // volatile ids
  std::set<long> warned_mmap;
  auto push = [&](Op op) { h.ops.push_back(std::move(op)); };
  auto file = [&](Kind k, const Record& rec, long id) {
    Op op;
    op.kind = k;
    op.rec = rec.index;
    op.id = id;
    op.where = r.where[id];
    return op;
  };
  auto write = [&](const Record& rec, long id, uint64_t off, std::string_view data, int64_t mtime) {
    uint64_t& sz = r.size[id];
    Op e = file(Kind::Extend, rec, id);
    e.grows = off + data.size() > sz;
    e.size = std::max<uint64_t>(sz, off + data.size());
    e.mtime = mtime;
    push(e);
    sz = e.size;
    Op w = file(Kind::Write, rec, id);
    w.off = off;
    w.data = data;
    w.mtime = mtime;
    push(w);
  };
  for (const Record& rec : t.records()) {
    const auto& a = rec.args;
    const std::string& o = rec.op;
    if (o == "begin" || o == "end" || o == "open" || o == "close" || o == "sfr" || o == "msync") continue;
    if (o == "warn") {
      std::string w;
      for (const auto& s : a) w += (w.empty() ? "" : " ") + s;
      h.warnings.push_back("recorder: " + w);
      continue;
    }
    if (o == "ev") {
      Op op;
      op.kind = Kind::Event;
      op.rec = rec.index;
      op.ev = &rec;
      push(op);
      if (!a.empty() && a[0] == "workload-start") h.workload_start = h.ops.size();
      continue;
    }
    if (o == "sync") {
      Op op;
      op.kind = Kind::SyncAll;
      op.rec = rec.index;
      push(op);
      continue;
    }
    if (a.empty()) continue;
    const long id = to_id(a[0]);
    if (o == "base-dir" || o == "base-file") {
      const std::string p = rel(a.at(1));
      if (volatile_name(p)) {
        vol.insert(id);
        continue;
      }
      h.base_ns[p] = id;
      r.add(p, id);
      if (o == "base-dir") {
        h.dirs.insert(id);
      } else {
        h.base_files[id].bytes = std::string(rec.data);
        h.base_files[id].mtime = to_mtime(a, 2);
        r.size[id] = rec.data.size();
      }
      continue;
    }
    if (vol.count(id)) continue;
    if (o == "base-xattr") {
      h.base_files[id].xattrs[a.at(1)] = std::string(rec.data);
    } else if (o == "create" || o == "mkdir" || o == "adopt") {
      const std::string p = rel(a.at(1));
      if (volatile_name(p)) {
        vol.insert(id);
        continue;
      }
      Op op;
      op.kind = o == "mkdir" ? Kind::Mkdir : Kind::Create;
      op.rec = rec.index;
      op.id = id;
      op.path = p;
      op.dir = r.parent_id(p);
      op.mtime = to_mtime(a, 2);
      push(op);
      r.add(p, id);
      r.size[id] = 0;
      if (o == "mkdir") h.dirs.insert(id);
      if (o == "adopt") {
        h.warnings.push_back("a file appeared without a traced create: " + p + " (record " +
                             std::to_string(rec.index) + "); its bytes count as written then");
        write(rec, id, 0, rec.data, to_mtime(a, 2));
      }
    } else if (o == "link") {
      Op op = file(Kind::Link, rec, id);
      op.path = rel(a.at(1));
      op.path2 = rel(a.at(2));
      op.dir = r.parent_id(op.path2);
      op.dir2 = op.dir;
      push(op);
      r.ns[op.path2] = id;
    } else if (o == "rename") {
      Op op;
      op.kind = Kind::Rename;
      op.rec = rec.index;
      op.id = id;
      op.path = rel(a.at(1));
      op.path2 = rel(a.at(2));
      op.dir = r.parent_id(op.path);
      op.dir2 = r.parent_id(op.path2);
      op.is_dir_op = h.dirs.count(id) > 0;
      if (volatile_name(op.path) || volatile_name(op.path2)) continue;
      push(op);
      r.rename(op.path, op.path2);
    } else if (o == "unlink" || o == "rmdir") {
      Op op;
      op.kind = o == "rmdir" ? Kind::Rmdir : Kind::Unlink;
      op.rec = rec.index;
      op.id = id;
      op.path = rel(a.at(1));
      op.dir = r.parent_id(op.path);
      op.is_dir_op = o == "rmdir";
      if (volatile_name(op.path)) continue;
      push(op);
      r.ns.erase(op.path);
    } else if (o == "write") {
      write(rec, id, to_u64(a.at(1)), rec.data, to_mtime(a, 2));
    } else if (o == "trunc") {
      Op op = file(Kind::Trunc, rec, id);
      op.size = to_u64(a.at(1));
      op.mtime = to_mtime(a, 2);
      push(op);
      r.size[id] = op.size;
    } else if (o == "falloc") {
      int mode = static_cast<int>(to_id(a.at(1)));
      uint64_t off = to_u64(a.at(2)), len = to_u64(a.at(3));
      if (mode & kFallocPunchHole) {
        static const std::string zeros(1 << 20, '\0');
        for (uint64_t done = 0; done < len;) {
          uint64_t n = std::min<uint64_t>(len - done, zeros.size());
          write(rec, id, off + done, std::string_view(zeros.data(), n), to_mtime(a, 4));
          done += n;
        }
      } else if (!(mode & kFallocKeepSize) && off + len > r.size[id]) {
        Op op = file(Kind::Trunc, rec, id);
        op.size = off + len;
        op.mtime = to_mtime(a, 4);
        push(op);
        r.size[id] = op.size;
      }
    } else if (o == "fsync" || o == "fdatasync") {
      Op op = file(o == "fsync" ? Kind::Fsync : Kind::Fdatasync, rec, id);
      op.is_dir_op = h.dirs.count(id) > 0;
      push(op);
    } else if (o == "setxattr" || o == "removexattr") {
      Op op = file(o == "setxattr" ? Kind::SetXattr : Kind::RemoveXattr, rec, id);
      op.name = a.at(1);
      op.data = rec.data;
      push(op);
    } else if (o == "mmap") {
      if (warned_mmap.insert(id).second)
        h.warnings.push_back("a shared writable mapping of " + r.where[id] +
                             ": writes through it are not traced (the models do not see them)");
    } else {
      h.warnings.push_back("record " + std::to_string(rec.index) + ": unknown operation '" + o + "' ignored");
    }
  }
  return h;
}

}  // namespace crash
