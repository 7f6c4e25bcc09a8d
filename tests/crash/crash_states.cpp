// crash_states.cpp - crash states of a trace of the real daemon, for the
// real-binary sample (tests/integration/power_loss_sample.sh): the states
// are written to disk for the test to put in place and mount, and the bucket
// the test dumps afterwards is checked against the same expectations the
// in-process harness uses (expectations.hpp).
//
//   crash_states --log TRACE --out DIR [--count N] [--seed S] [--models posix,journal]
//       writes DIR/NNN/cache (the traced cache dir as the state leaves it,
//       with xattrs and mtimes: move it into place whole) and DIR/NNN/spec
//       (the state, then the operations it loses, one a line); prints NNN SPEC
//   crash_states --log TRACE --verify SPEC --bucket DUMP
//       DUMP: one object a line, "KEY SHA256 SIZE MODE UID GID MTIME" (fields
//       percent-encoded, "-" for a missing metadata value); prints each
//       violation and "N passed, N failed" (1 test); exit 0 if none.
// The bucket of a sampled state is the bucket before the workload: the test
// never lets a mutating request reach the server during the recorded run.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "state_plan.hpp"

using namespace crash;

namespace {

int usage(const std::string& why) {
  std::cerr << "crash_states: " << why << "\n"
            << "usage: crash_states --log TRACE --out DIR [--count N] [--seed S] [--models posix,journal]\n"
            << "       crash_states --log TRACE --verify SPEC --bucket DUMP\n";
  return 2;
}

std::map<std::string, Object> read_dump(const std::string& path, bool* ok) {
  std::map<std::string, Object> out;
  std::ifstream in(path);
  *ok = static_cast<bool>(in);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string key, sha, size, mode, uid, gid, mtime;
    if (!(f >> key >> sha >> size >> mode >> uid >> gid >> mtime)) continue;
    Object o;
    o.sha = sha;
    o.size = std::strtoull(size.c_str(), nullptr, 10);
    const char* names[] = {"mode", "uid", "gid", "mtime"};
    std::string vals[] = {mode, uid, gid, mtime};
    for (int i = 0; i < 4; ++i)
      if (vals[i] != "-") o.meta[names[i]] = unescape_token(vals[i]);
    out[unescape_token(key)] = o;
  }
  return out;
}

int verify(const History& h, const std::string& spec_text, const std::string& dump) {
  auto spec = StateSpec::decode(spec_text);
  if (!spec) return usage("cannot parse the state '" + spec_text + "'");
  bool ok = false;
  auto bucket = read_dump(dump, &ok);
  if (!ok) return usage("cannot read the bucket dump " + dump);
  Timeline t(h, spec->model, 5 << 20);
  t.advance(spec->point);
  auto v = t.expectations().check(bucket);
  for (const auto& x : v) std::cout << "violation: " << x.kind << " " << x.key << ": " << x.detail << "\n";
  std::cout << (v.empty() ? "1 passed, 0 failed" : "0 passed, 1 failed") << "\n";
  return v.empty() ? 0 : 1;
}

int sample(const History& h, const std::string& out, size_t count, uint64_t seed,
           const std::vector<Model>& models) {
  size_t n = 0;
  if (::mkdir(out.c_str(), 0700) != 0 && errno != EEXIST) {
    std::cerr << "crash_states: cannot create " << out << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  for (Model m : models) {
    std::mt19937_64 rng(seed * 2654435761u + static_cast<unsigned>(m));
    const size_t budget = count / models.size() + (m == models.front() ? count % models.size() : 0);
    auto points = plan_points(h, std::max<size_t>(1, budget / 2), rng);
    Timeline t(h, m, 5 << 20);
    std::set<uint64_t> seen;
    size_t left = budget;
    for (size_t i = 0; i < points.size() && left > 0; ++i) {
      t.advance(points[i]);
      size_t quota = (left + (points.size() - i) - 1) / (points.size() - i);
      SpecSource src(t.sweeper(), rng);
      StateSpec s;
      while (quota > 0 && src.next(&s)) {
        FsState st = t.sweeper().build(s);
        if (!seen.insert(t.state_key(st)).second) continue;
        char name[16];
        std::snprintf(name, sizeof name, "%03zu", n++);
        const std::string dir = out + "/" + name;
        std::string err;
        if (!remove_tree(dir, &err) || ::mkdir(dir.c_str(), 0700) != 0 ||
            !(err = st.materialize(dir + "/cache")).empty()) {
          std::cerr << "crash_states: " << (err.empty() ? "cannot create " + dir : err) << "\n";
          return 1;
        }
        std::ofstream spec(dir + "/spec");
        spec << s.encode() << "\n";
        for (const auto& l : t.sweeper().describe(s)) spec << l << "\n";
        std::cout << name << " " << s.encode() << "\n";
        --quota;
        --left;
      }
    }
  }
  return n > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string log, out, verify_spec, dump;
  size_t count = 40;
  uint64_t seed = 1;
  std::vector<Model> models{Model::Posix, Model::Journal};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage(a + " needs a value");
    std::string v = argv[++i];
    if (a == "--log")
      log = v;
    else if (a == "--out")
      out = v;
    else if (a == "--count")
      count = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--seed")
      seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--verify")
      verify_spec = v;
    else if (a == "--bucket")
      dump = v;
    else if (a == "--models") {
      models.clear();
      std::istringstream in(v);
      std::string m;
      while (std::getline(in, m, ','))
        if (auto p = parse_model(m))
          models.push_back(*p);
        else
          return usage("--models: posix and/or journal");
    } else {
      return usage("unknown argument '" + a + "'");
    }
  }
  if (log.empty() || (out.empty() == verify_spec.empty())) return usage("give --log and one of --out, --verify");
  std::string err;
  auto trace = Trace::load(log, &err);
  if (!trace) return usage(err);
  History h = History::build(*trace);
  for (const auto& w : h.warnings) std::cerr << "crash_states: warning: " << w << "\n";
  if (!verify_spec.empty()) return verify(h, verify_spec, dump);
  return sample(h, out, count, seed, models);
}
