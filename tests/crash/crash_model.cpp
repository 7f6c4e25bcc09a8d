// crash_model.cpp - see crash_model.hpp for the two models.
#include "crash_model.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace crash {
namespace {

bool is_meta(const Op& o) {
  return o.namespace_op() || o.kind == Kind::Extend || o.kind == Kind::Trunc || o.kind == Kind::SetXattr ||
         o.kind == Kind::RemoveXattr;
}

std::string shorten(std::string_view v) {
  std::string s = escape_token(v);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace

const char* model_name(Model m) { return m == Model::Posix ? "posix" : "journal"; }

std::optional<Model> parse_model(const std::string& s) {
  if (s == "posix" || s == "a") return Model::Posix;
  if (s == "journal" || s == "b") return Model::Journal;
  return std::nullopt;
}

uint32_t unit_count(uint64_t off, uint64_t len) {
  if (len == 0) return 0;
  return static_cast<uint32_t>((off + len - 1) / kBlock - off / kBlock + 1);
}

std::pair<uint64_t, uint64_t> unit_range(uint64_t off, uint64_t len, uint32_t u) {
  uint64_t block = off / kBlock + u;
  return {std::max(off, block * kBlock), std::min(off + len, (block + 1) * kBlock)};
}

std::string StateSpec::encode() const {
  std::ostringstream o;
  o << model_name(model) << "@" << point;
  if (model == Model::Posix) {
    std::string sep = ":k=";
    for (const auto& [s, n] : keep) {
      o << sep << s << "." << n;
      sep = ",";
    }
  } else {
    if (meta_keep != SIZE_MAX) o << ":m=" << meta_keep;
    std::string sep = ":d=";
    for (const auto& [op, u] : dropped) {
      o << sep << op << "." << u;
      sep = ",";
    }
  }
  return o.str();
}

std::optional<StateSpec> StateSpec::decode(const std::string& s) {
  StateSpec out;
  auto at = s.find('@');
  if (at == std::string::npos) return std::nullopt;
  auto m = parse_model(s.substr(0, at));
  if (!m) return std::nullopt;
  out.model = *m;
  std::istringstream in(s.substr(at + 1));
  std::string part;
  bool first = true;
  while (std::getline(in, part, ':')) {
    if (first) {
      out.point = std::strtoull(part.c_str(), nullptr, 10);
      first = false;
      continue;
    }
    if (part.size() < 2 || part[1] != '=') return std::nullopt;
    std::istringstream items(part.substr(2));
    std::string item;
    while (std::getline(items, item, ',')) {
      auto dot = item.find('.');
      if (part[0] == 'm') {
        out.meta_keep = std::strtoull(item.c_str(), nullptr, 10);
      } else if (dot == std::string::npos) {
        return std::nullopt;
      } else if (part[0] == 'k') {
        out.keep[std::strtol(item.c_str(), nullptr, 10)] = std::strtoull(item.c_str() + dot + 1, nullptr, 10);
      } else if (part[0] == 'd') {
        out.dropped.insert({std::strtoull(item.c_str(), nullptr, 10),
                            static_cast<uint32_t>(std::strtoul(item.c_str() + dot + 1, nullptr, 10))});
      } else {
        return std::nullopt;
      }
    }
  }
  return out;
}

size_t Pending::count() const {
  size_t n = meta.size() + units.size();
  for (const auto& [s, v] : streams) n += v.size();
  return n;
}

Sweeper::Sweeper(const History& h, Model m) : h_(h), m_(m) {
  memb_.resize(h.ops.size());
  meta_idx_.assign(h.ops.size(), SIZE_MAX);
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const Op& o = h.ops[i];
    auto member = [&](long s) {
      memb_[i].push_back({s, stream_ops_[s].size()});
      stream_ops_[s].push_back(i);
    };
    if (o.file_op()) {
      file_ops_[o.id].push_back(i);
      if (o.kind != Kind::Extend) member(o.id);  // Posix: a write grows the size itself
    } else if (o.namespace_op()) {
      member(o.dir);
      if ((o.kind == Kind::Rename || o.kind == Kind::Link) && o.dir2 != o.dir) member(o.dir2);
    }
    if (is_meta(o)) {
      meta_idx_[i] = meta_ops_.size();
      meta_ops_.push_back(i);
    }
  }
  for (const auto& [id, f] : h.base_files) {
    Image& img = base_[id];
    img.bytes = f.bytes;
    img.size = f.bytes.size();
    img.xattrs = f.xattrs;
    img.mtime = f.mtime;
  }
  for (const Op& o : h.ops)
    if (o.kind == Kind::Create) base_[o.id].mtime = o.mtime;
}

size_t Sweeper::count_before(const std::vector<size_t>& v, size_t bound) const {
  return static_cast<size_t>(std::lower_bound(v.begin(), v.end(), bound) - v.begin());
}

void Sweeper::advance(size_t point) {
  point = std::min(point, h_.ops.size());
  for (; k_ < point; ++k_) {
    const Op& o = h_.ops[k_];
    const size_t i = k_;
    auto force_meta = [&] { forced_ = count_before(meta_ops_, i); };
    if (o.kind == Kind::SyncAll) {
      for (auto& [s, ops] : stream_ops_) durable_[s] = count_before(ops, i);
      force_meta();
      sync_pos_ = i;
    } else if (o.kind == Kind::Fsync || o.kind == Kind::Fdatasync) {
      if (auto it = stream_ops_.find(o.id); it != stream_ops_.end()) durable_[o.id] = count_before(it->second, i);
      if (!o.is_dir_op) data_pos_[o.id] = i;
      auto ls = last_size_op_.find(o.id);
      if (o.kind == Kind::Fsync || o.is_dir_op || (ls != last_size_op_.end() && ls->second >= forced_))
        force_meta();
    } else if ((o.kind == Kind::Extend && o.grows) || o.kind == Kind::Trunc) {
      last_size_op_[o.id] = meta_idx_[i];
    }
  }
  fold();
  compute_pending();
}

size_t Sweeper::durable_bound(long file) const {
  if (m_ == Model::Posix) {
    auto s = stream_ops_.find(file);
    auto d = durable_.find(file);
    size_t n = d == durable_.end() ? 0 : d->second;
    if (s == stream_ops_.end() || n >= s->second.size()) return SIZE_MAX;
    return s->second[n];
  }
  size_t meta_bound = forced_ < meta_ops_.size() ? meta_ops_[forced_] : SIZE_MAX;
  auto d = data_pos_.find(file);
  size_t data_bound = std::max(sync_pos_, d == data_pos_.end() ? size_t{0} : d->second);
  return std::min(meta_bound, data_bound);
}

void Sweeper::fold() {
  for (const auto& [file, ops] : file_ops_) {
    size_t bound = std::min(durable_bound(file), k_);
    size_t& done = folded_[file];
    Image& img = base_[file];
    for (; done < ops.size() && ops[done] < bound; ++done) apply(img, ops[done], nullptr);
  }
}

void Sweeper::compute_pending() {
  pending_ = Pending{};
  if (m_ == Model::Posix) {
    for (const auto& [s, ops] : stream_ops_) {
      auto d = durable_.find(s);
      size_t from = d == durable_.end() ? 0 : d->second, to = count_before(ops, k_);
      if (from < to) pending_.streams[s].assign(ops.begin() + from, ops.begin() + to);
    }
    return;
  }
  for (size_t j = forced_; j < meta_ops_.size() && meta_ops_[j] < k_; ++j) pending_.meta.push_back(meta_ops_[j]);
  for (const auto& [file, ops] : file_ops_) {
    auto d = data_pos_.find(file);
    size_t from = std::max(sync_pos_, d == data_pos_.end() ? size_t{0} : d->second);
    for (size_t i : ops) {
      if (i < from || i >= k_ || h_.ops[i].kind != Kind::Write) continue;
      const Op& w = h_.ops[i];
      for (uint32_t u = 0; u < unit_count(w.off, w.data.size()); ++u) pending_.units.push_back({i, u});
    }
  }
  std::sort(pending_.units.begin(), pending_.units.end());
}

bool Sweeper::kept(size_t op, const StateSpec& s) const {
  if (m_ == Model::Posix) {
    for (const auto& [stream, idx] : memb_[op]) {
      auto d = durable_.find(stream);
      size_t durable = d == durable_.end() ? 0 : d->second;
      if (idx < durable) continue;
      auto k = s.keep.find(stream);
      if (k != s.keep.end() && idx >= durable + k->second) return false;
    }
    return true;
  }
  size_t m = meta_idx_[op];
  if (m == SIZE_MAX || m < forced_) return true;
  return s.meta_keep == SIZE_MAX || m < forced_ + s.meta_keep;
}

bool Sweeper::unit_kept(size_t op, uint32_t unit, const StateSpec& s) const {
  auto d = data_pos_.find(h_.ops[op].id);
  size_t from = std::max(sync_pos_, d == data_pos_.end() ? size_t{0} : d->second);
  return op < from || !s.dropped.count({op, unit});
}

void Sweeper::apply(Image& img, size_t i, const StateSpec* s) const {
  const Op& o = h_.ops[i];
  const bool posix = m_ == Model::Posix;
  if (o.kind == Kind::Write) {
    if (posix || !s) {
      if (!s || kept(i, *s)) {
        img.write(o.off, o.data.data(), o.data.size(), posix);
        if (posix) img.mtime = o.mtime;
      }
      return;
    }
    for (uint32_t u = 0; u < unit_count(o.off, o.data.size()); ++u) {
      if (!unit_kept(i, u, *s)) continue;
      auto [a, b] = unit_range(o.off, o.data.size(), u);
      img.write(a, o.data.data() + (a - o.off), b - a, false);
    }
    return;
  }
  if (s && !kept(i, *s)) return;
  switch (o.kind) {
    case Kind::Extend:
      if (!posix) {
        img.extend(o.size);
        img.mtime = o.mtime;
      }
      break;
    case Kind::Trunc:
      img.set_size(o.size);
      img.mtime = o.mtime;
      break;
    case Kind::SetXattr: img.xattrs[o.name] = std::string(o.data); break;
    case Kind::RemoveXattr: img.xattrs.erase(o.name); break;
    default: break;
  }
}

FsState Sweeper::build(const StateSpec& s) const {
  FsState st;
  std::map<std::string, long> ns = h_.base_ns;
  auto erase_tree = [&](const std::string& p) {
    for (auto it = ns.begin(); it != ns.end();)
      it = (it->first == p ||
            (it->first.size() > p.size() && it->first.compare(0, p.size(), p) == 0 && it->first[p.size()] == '/'))
               ? ns.erase(it)
               : std::next(it);
  };
  for (size_t i = 0; i < k_; ++i) {
    const Op& o = h_.ops[i];
    if (!o.namespace_op() || !kept(i, s)) continue;
    switch (o.kind) {
      case Kind::Create:
      case Kind::Mkdir: ns[o.path] = o.id; break;
      case Kind::Link: ns[o.path2] = o.id; break;
      case Kind::Unlink:
      case Kind::Rmdir: erase_tree(o.path); break;
      case Kind::Rename: {
        auto it = ns.find(o.path);
        if (it == ns.end()) break;  // its creation was lost: so is the rename
        std::vector<std::pair<std::string, long>> moved{{o.path2, it->second}};
        const std::string from = o.path + "/";
        for (auto j = ns.lower_bound(from); j != ns.end() && j->first.compare(0, from.size(), from) == 0; ++j)
          moved.emplace_back(o.path2 + j->first.substr(o.path.size()), j->second);
        erase_tree(o.path);
        erase_tree(o.path2);
        for (auto& [p, id] : moved) ns[p] = id;
        break;
      }
      default: break;
    }
  }
  for (const auto& [path, id] : ns) {
    if (!path.empty() && !st.ns.count(parent_of(path))) continue;  // its directory was lost
    st.ns[path] = id;
    if (h_.dirs.count(id)) {
      st.dirs.insert(id);
      continue;
    }
    if (st.files.count(id)) continue;
    Image img;
    if (auto b = base_.find(id); b != base_.end()) img = b->second;
    auto ops = file_ops_.find(id);
    if (ops != file_ops_.end()) {
      auto f = folded_.find(id);
      for (size_t j = f == folded_.end() ? 0 : f->second; j < ops->second.size() && ops->second[j] < k_; ++j)
        apply(img, ops->second[j], &s);
    }
    st.files[id] = std::move(img);
  }
  return st;
}

std::string Sweeper::describe_op(size_t i) const {
  const Op& o = h_.ops[i];
  std::ostringstream out;
  out << "#" << o.rec << " " << kind_name(o.kind) << " ";
  switch (o.kind) {
    case Kind::Create:
    case Kind::Mkdir:
    case Kind::Unlink:
    case Kind::Rmdir: out << o.path; break;
    case Kind::Rename: out << o.path << " -> " << o.path2; break;
    case Kind::Link: out << o.path << " as " << o.path2; break;
    case Kind::Write: out << o.where << " [" << o.off << ", " << o.off + o.data.size() << ")"; break;
    case Kind::Extend: out << o.where << " size " << o.size << " and mtime (the write's inode change)"; break;
    case Kind::Trunc: out << o.where << " to " << o.size; break;
    case Kind::SetXattr: out << o.where << " " << o.name << "=" << shorten(o.data); break;
    case Kind::RemoveXattr: out << o.where << " " << o.name; break;
    default: out << o.where; break;
  }
  return out.str();
}

std::vector<std::string> Sweeper::describe(const StateSpec& s) const {
  std::vector<std::string> out;
  if (m_ == Model::Posix) {
    for (const auto& [stream, ops] : pending_.streams) {
      auto k = s.keep.find(stream);
      size_t keep = k == s.keep.end() ? ops.size() : std::min(k->second, ops.size());
      for (size_t j = keep; j < ops.size(); ++j) out.push_back(describe_op(ops[j]));
    }
    return out;
  }
  size_t keep = std::min(s.meta_keep, pending_.meta.size());
  for (size_t j = keep; j < pending_.meta.size(); ++j) out.push_back(describe_op(pending_.meta[j]));
  for (const auto& [op, u] : s.dropped) {
    const Op& w = h_.ops[op];
    auto [a, b] = unit_range(w.off, w.data.size(), u);
    out.push_back("#" + std::to_string(w.rec) + " write " + w.where + " block [" + std::to_string(a) + ", " +
                  std::to_string(b) + ") of [" + std::to_string(w.off) + ", " +
                  std::to_string(w.off + w.data.size()) + ")");
  }
  return out;
}

size_t Sweeper::lost_count(const StateSpec& s) const { return describe(s).size(); }

StateSpec Sweeper::everything() const {
  StateSpec s;
  s.model = m_;
  s.point = k_;
  return s;
}

StateSpec Sweeper::nothing() const {
  StateSpec s = everything();
  for (const auto& [stream, ops] : pending_.streams) s.keep[stream] = 0;
  if (m_ == Model::Journal) {
    s.meta_keep = 0;
    s.dropped.insert(pending_.units.begin(), pending_.units.end());
  }
  return s;
}

std::vector<StateSpec> Sweeper::singles() const {
  std::vector<StateSpec> out;
  for (const auto& [stream, ops] : pending_.streams)
    for (size_t j = 0; j < ops.size(); ++j) {
      StateSpec s = everything();
      s.keep[stream] = j;
      out.push_back(s);
    }
  if (m_ == Model::Journal) {
    for (size_t j = 0; j < pending_.meta.size(); ++j) {
      StateSpec s = everything();
      s.meta_keep = j;
      out.push_back(s);
    }
    for (const auto& u : pending_.units) {
      StateSpec s = everything();
      s.dropped.insert(u);
      out.push_back(s);
    }
  }
  return out;
}

StateSpec Sweeper::random(std::mt19937_64& rng) const {
  StateSpec s = everything();
  for (const auto& [stream, ops] : pending_.streams)
    s.keep[stream] = std::uniform_int_distribution<size_t>(0, ops.size())(rng);
  if (m_ == Model::Journal) {
    s.meta_keep = std::uniform_int_distribution<size_t>(0, pending_.meta.size())(rng);
    double p = std::uniform_real_distribution<double>(0, 1)(rng);
    for (const auto& u : pending_.units)
      if (std::uniform_real_distribution<double>(0, 1)(rng) < p) s.dropped.insert(u);
  }
  return s;
}

}  // namespace crash
