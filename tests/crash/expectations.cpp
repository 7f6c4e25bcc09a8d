// expectations.cpp - see expectations.hpp.
#include "expectations.hpp"

#include <algorithm>
#include <cstdlib>

#include "bucketfs/util/digest.hpp"

namespace crash {
namespace {

bool field_ok(const std::string& want, const std::string& got) { return want == "*" || want == got; }

std::string meta_of(const Object& o, const char* k) {
  auto it = o.meta.find(k);
  return it == o.meta.end() ? "" : it->second;
}

std::string describe(const Object& o) {
  return "sha " + o.sha.substr(0, 12) + " size " + std::to_string(o.size) + " mode " + meta_of(o, "mode") +
         " uid " + meta_of(o, "uid") + " gid " + meta_of(o, "gid") + " mtime " + meta_of(o, "mtime");
}

std::string describe(const std::vector<Version>& vs) {
  std::string out;
  for (const auto& v : vs) out += (out.empty() ? "" : " | ") + v.describe();
  return out.empty() ? "(nothing)" : out;
}

Version version_of(const std::map<std::string, std::string>& f, const std::string& what) {
  Version v;
  v.sha = field(f, "sha", "*");
  v.size = field(f, "size", "*");
  v.mode = field(f, "mode", "*");
  v.uid = field(f, "uid", "*");
  v.gid = field(f, "gid", "*");
  v.mtime = field(f, "mtime", "*");
  v.what = what;
  return v;
}

bool under(const std::string& key, const std::string& dir) {
  return key.size() > dir.size() && key.compare(0, dir.size(), dir) == 0 && key[dir.size()] == '/';
}

}  // namespace

std::string sha256_hex(const std::string& bytes) { return bucketfs::crypto::hex(bucketfs::crypto::sha256(bytes)); }

bool Version::same_content(const Object& o) const { return !absent && field_ok(sha, o.sha); }

bool Version::matches(const Object& o) const {
  return same_content(o) && field_ok(size, std::to_string(o.size)) && field_ok(mode, meta_of(o, "mode")) &&
         field_ok(uid, meta_of(o, "uid")) && field_ok(gid, meta_of(o, "gid")) &&
         field_ok(mtime, meta_of(o, "mtime"));
}

std::string Version::describe() const {
  if (absent) return "absent (" + what + ")";
  return "sha " + sha.substr(0, 12) + " size " + size + " mode " + mode + " uid " + uid + " gid " + gid +
         " mtime " + mtime + " (" + what + ")";
}

void Expectations::add(std::vector<Version>& set, const Version& v) {
  for (const auto& x : set)
    if (x.absent == v.absent && x.sha == v.sha && x.size == v.size && x.mode == v.mode && x.uid == v.uid &&
        x.gid == v.gid && x.mtime == v.mtime)
      return;
  set.push_back(v);
}

uint64_t Expectations::max_size(const std::string& key) const {
  uint64_t m = 0;
  auto it = names_.find(key);
  if (it == names_.end()) return 0;
  for (const auto& v : it->second.history)
    if (!v.absent && v.size != "*") m = std::max<uint64_t>(m, std::strtoull(v.size.c_str(), nullptr, 10));
  return m;
}

// (old key, new key) for every key a rename moves.
std::vector<std::pair<std::string, std::string>> Expectations::moves(const std::string& from,
                                                                     const std::string& to, bool dir) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!dir) return {{from, to}};
  for (const auto& [key, n] : names_)
    if (under(key, from)) out.emplace_back(key, to + key.substr(from.size()));
  return out;
}

void Expectations::apply(const Record& r) {
  if (r.op != "ev" || r.args.empty()) return;
  if (r.args[0] == "bucket-init") {
    auto f = fields(r, 1);
    Version v = version_of(f, "in the bucket before the workload");
    Name& n = name(field(f, "key"));
    n.acc = {v};
    add(n.history, v);
    ++applied_;
    return;
  }
  if (r.args[0] != "fuse" || r.args.size() < 2) return;
  auto f = fields(r, 2);
  if (r.args[1] == "begin") begin(f);
  if (r.args[1] == "end") end(field(f, "id"), std::atoi(field(f, "rc", "0").c_str()));
  ++applied_;
}

Expectations::Name& Expectations::name(const std::string& key) {
  auto [it, inserted] = names_.try_emplace(key);
  if (inserted) {
    Version never;
    never.absent = true;
    never.what = "never closed";
    it->second.acc = {never};
    it->second.absent_why = "never closed";
  }
  return it->second;
}

void Expectations::begin(const std::map<std::string, std::string>& f) {
  const std::string op = field(f, "op"), id = field(f, "id"), path = field(f, "path");
  Inflight& in = inflight_[id];
  in.f = f;
  const std::string tag = op + " #" + id;
  if (op == "close" || op == "fsync" || op == "chmod") {
    Version v = version_of(f, tag);
    in.before[path] = name(path);
    add(name(path).acc, v);
    add(name(path).history, v);
  } else if (op == "unlink") {
    in.before[path] = name(path);
    Version v;
    v.absent = true;
    v.what = tag;
    add(name(path).acc, v);
  } else if (op == "rename") {
    for (const auto& [from, to] : moves(path, field(f, "to"), field(f, "dir") == "1")) {
      in.before[from] = name(from);
      in.before[to] = name(to);
    }
    for (const auto& [from, to] : moves(path, field(f, "to"), field(f, "dir") == "1")) {
      Name &src = name(from), &dst = name(to);
      for (const auto& v : src.acc) add(dst.acc, v);
      for (const auto& v : src.history) add(dst.history, v);
      Version gone;
      gone.absent = true;
      gone.what = tag;
      add(src.acc, gone);
    }
  }
}

void Expectations::end(const std::string& id, int rc) {
  auto it = inflight_.find(id);
  if (it == inflight_.end()) return;
  Inflight in = std::move(it->second);
  inflight_.erase(it);
  if (rc != 0) return;  // failed: what began may or may not have happened
  const std::string op = field(in.f, "op"), path = field(in.f, "path"), tag = op + " #" + id;
  if (op == "close" || op == "fsync" || (op == "chmod" && field(in.f, "writer") != "1")) {
    Name& n = name(path);
    n.acc = {version_of(in.f, tag)};
    n.absent_why.clear();
  } else if (op == "unlink") {
    Name& n = name(path);
    Version gone;
    gone.absent = true;
    gone.what = tag;
    n.acc = {gone};
    n.absent_why = "unlinked by " + tag;
  } else if (op == "rename") {
    const std::string to = field(in.f, "to");
    for (const auto& [from, dest] : moves(path, to, field(in.f, "dir") == "1")) {
      if (!in.before.count(from)) continue;  // appeared under the directory after the rename began
      Name& d = name(dest);
      d.acc = in.before[from].acc;
      d.absent_why = in.before[from].absent_why;
      Name& s = name(from);
      Version gone;
      gone.absent = true;
      gone.what = tag;
      s.acc = {gone};
      s.absent_why = "renamed to " + dest + " by " + tag;
    }
  }
}

std::vector<Violation> Expectations::check(const std::map<std::string, Object>& bucket) const {
  std::vector<Violation> out;
  std::set<std::string> keys;
  for (const auto& [k, n] : names_) keys.insert(k);
  for (const auto& [k, o] : bucket) keys.insert(k);
  for (const auto& key : keys) {
    if (!key.empty() && key.back() == '/') continue;
    static const Name none{{Version{true, "*", "*", "*", "*", "*", "*", "never closed"}}, {}, "never closed"};
    auto n = names_.find(key);
    const Name& name = n == names_.end() ? none : n->second;
    auto b = bucket.find(key);
    if (b == bucket.end()) {
      if (std::none_of(name.acc.begin(), name.acc.end(), [](const Version& v) { return v.absent; }))
        out.push_back({"lost", key, "the bucket has no object; allowed: " + describe(name.acc)});
      continue;
    }
    const Object& o = b->second;
    if (std::any_of(name.acc.begin(), name.acc.end(), [&](const Version& v) { return v.matches(o); })) continue;
    const std::string has = "the bucket has " + describe(o) + "; allowed: " + describe(name.acc);
    bool only_absent = std::all_of(name.acc.begin(), name.acc.end(), [](const Version& v) { return v.absent; });
    if (only_absent) {
      const std::string& why = name.absent_why.empty() ? "never closed" : name.absent_why;
      std::string kind = why.rfind("unlinked", 0) == 0  ? "resurrected"
                         : why.rfind("renamed", 0) == 0 ? "old-name"
                                                        : "unexpected";
      out.push_back({kind, key, why + "; " + has});
    } else if (std::any_of(name.acc.begin(), name.acc.end(),
                           [&](const Version& v) { return v.same_content(o); })) {
      out.push_back({"metadata", key, has});
    } else if (std::any_of(name.history.begin(), name.history.end(),
                           [&](const Version& v) { return v.same_content(o); })) {
      out.push_back({"stale", key, has});
    } else {
      out.push_back({"torn", key, "content that no close produced: " + has});
    }
  }
  return out;
}

}  // namespace crash
