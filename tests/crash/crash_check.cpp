// crash_check.cpp - the power-loss crash-state harness, in-process (issue 11;
// tests/crash/README.md). Records a seeded workload through bucketfs's real
// write path (in a child process under the LD_PRELOAD recorder), builds crash
// states from the trace under two file-system models, recovers each one
// in-process over the bucket as it was at the crash point, checks the
// invariants (checker.hpp), shrinks each kind of failure to a minimal state
// and prints it with a command that replays exactly that state.
//
//   crash_check [--states N] [--seed S] [--models posix,journal] [--quiet]
//               [--files N] [--ops N] [--timeout-ms MS] [--shrink N] [--keep DIR]
//   crash_check --clean [--seed S]           only the end of the trace, nothing lost
//   crash_check --no-dir-renames ...         a workload without directory renames
//   crash_check --log TRACE --replay SPEC    check one state of a kept trace
//                                            (SPEC "posix@r12": just before request 12 began)
//   crash_check --log TRACE [--states N]     check states of a kept trace
// Env: CRASH_STATES, CRASH_SEED (defaults of --states and --seed),
//      BFS_TRACE_SHIM (the recorder; default: trace_shim.so next to this program),
//      CRASH_WORK (where states are written; default /dev/shm, else TMPDIR).
// One line per state checked; the last line is "N passed, N failed" (states).
// Exit 0 only if every state passed.
#include <limits.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "bucketfs/util/log.hpp"
#include "checker.hpp"
#include "recorder.hpp"
#include "state_plan.hpp"

using namespace crash;
namespace fsys = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  uint64_t seed = 0;
  size_t states = 2000;
  std::vector<Model> models{Model::Posix, Model::Journal};
  bool quiet = false, clean = false, record_child = false, dir_renames = true;
  int files = 24, ops = 140;
  long timeout_ms = 30000;
  int shrink = 24;  // failures shrunk (one per model and kind)
  std::string log, replay, keep, cache, bucketfs_log;
};

const char* kUsage =
    "usage: crash_check [--states N] [--seed S] [--models posix,journal] [--quiet] [--files N] [--ops N]\n"
    "                   [--timeout-ms MS] [--shrink N] [--keep DIR] [--clean] [--no-dir-renames]\n"
    "                   [--log TRACE [--replay SPEC]]\n";

bool parse(int argc, char** argv, Options* o) {
  if (const char* s = std::getenv("CRASH_STATES")) o->states = std::strtoull(s, nullptr, 10);
  o->seed = std::getenv("CRASH_SEED") ? std::strtoull(std::getenv("CRASH_SEED"), nullptr, 10)
                                      : static_cast<uint64_t>(::time(nullptr)) % 1000000;
  o->keep = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seed")
      o->seed = std::stoull(val());
    else if (a == "--states")
      o->states = std::stoull(val());
    else if (a == "--quiet")
      o->quiet = true;
    else if (a == "--clean")
      o->clean = true;
    else if (a == "--no-dir-renames")
      o->dir_renames = false;
    else if (a == "--files")
      o->files = std::stoi(val());
    else if (a == "--ops")
      o->ops = std::stoi(val());
    else if (a == "--timeout-ms")
      o->timeout_ms = std::stol(val());
    else if (a == "--shrink")
      o->shrink = std::stoi(val());
    else if (a == "--keep")
      o->keep = val();
    else if (a == "--log")
      o->log = val();
    else if (a == "--replay")
      o->replay = val();
    else if (a == "--record-child")
      o->record_child = true;
    else if (a == "--cache")
      o->cache = val();
    else if (a == "--bucketfs-log")
      o->bucketfs_log = val();
    else if (a == "--models") {
      o->models.clear();
      std::string list = val();
      for (size_t p = 0; p <= list.size();) {
        size_t c = list.find(',', p);
        auto m = parse_model(list.substr(p, c == std::string::npos ? std::string::npos : c - p));
        if (!m) throw std::runtime_error("--models: posix and/or journal, not '" + list + "'");
        o->models.push_back(*m);
        if (c == std::string::npos) break;
        p = c + 1;
      }
    } else {
      throw std::runtime_error("unknown argument '" + a + "'");
    }
  }
  if (!o->replay.empty() && o->log.empty()) throw std::runtime_error("--replay needs --log TRACE");
  return true;
}

// Work dirs to remove if a signal ends the run (set before the handler can run).
std::string g_work, g_states;

[[noreturn]] void on_signal(int sig) {
  // A test tool on its way out: not async-signal-safe, but nothing else runs.
  if (recording_child > 0) ::kill(recording_child, SIGKILL);
  if (!g_work.empty()) remove_tree(g_work, nullptr);
  if (!g_states.empty()) remove_tree(g_states, nullptr);
  ::_exit(128 + sig);
}

std::string self_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "crash_check";
}

std::string make_work_dir() {
  std::string base = std::getenv("CRASH_WORK") ? std::getenv("CRASH_WORK") : "";
  if (base.empty())
    base = fsys::is_directory("/dev/shm") ? "/dev/shm" : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  std::string tmpl = base + "/bucketfs-crash-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a work dir under " + base);
  return tmpl;
}

MountConfig mount_config(const std::string& cache) {
  MountConfig m;
  m.cache_dir = cache;
  m.fs.uid = 1000;
  m.fs.gid = 1000;
  return m;
}

std::string violations_line(const Verdict& v) {
  std::string out;
  for (const auto& x : v.violations)
    out += (out.empty() ? "" : "; ") + x.kind + (x.key.empty() ? "" : " " + x.key);
  return out;
}

struct Failure {
  StateSpec spec;
  Violation first;
};

struct Tally {
  size_t checked = 0, failed = 0, points = 0, with_orphans = 0;
  std::map<std::string, size_t> kinds;
  std::map<std::string, Failure> first_of_kind;  // "model/kind" -> first failing state
};

// Checks one state; prints its line.
Verdict check_one(Checker& checker, const Timeline& t, const StateSpec& s, size_t n, const Options& o) {
  Verdict v = checker.check(t.sweeper().build(s), t.bucket().store(), t.expectations());
  if (!v.ok() || !o.quiet) {
    std::cout << (v.ok() ? "ok   " : "FAIL ") << model_name(s.model) << "#" << n << " @" << s.point << " lost "
              << t.sweeper().lost_count(s) << (v.ok() ? "" : ": " + violations_line(v)) << "\n";
  }
  return v;
}

void run_model(Model m, const History& h, Checker& checker, const Options& o, size_t budget, Tally* tally) {
  std::mt19937_64 rng(o.seed * 2654435761u + static_cast<unsigned>(m));
  std::vector<size_t> points =
      o.clean ? std::vector<size_t>{h.ops.size()} : plan_points(h, std::max<size_t>(1, budget / 2), rng);
  Timeline t(h, m, 64 * 1024);
  std::set<uint64_t> seen;
  size_t left = o.clean ? 1 : budget;
  for (size_t i = 0; i < points.size() && left > 0; ++i) {
    t.advance(points[i]);
    ++tally->points;
    size_t quota = (left + (points.size() - i) - 1) / (points.size() - i);
    SpecSource src(t.sweeper(), rng);
    StateSpec s;
    while (quota > 0 && src.next(&s)) {
      if (!seen.insert(t.state_key(t.sweeper().build(s))).second) continue;
      Verdict v = check_one(checker, t, s, tally->checked, o);
      ++tally->checked;
      --quota;
      --left;
      if (v.orphans) ++tally->with_orphans;
      if (v.ok()) continue;
      ++tally->failed;
      std::set<std::string> kinds;
      for (const auto& x : v.violations) kinds.insert(x.kind);
      for (const auto& k : kinds) {
        ++tally->kinds[k];
        const std::string sig = std::string(model_name(m)) + "/" + k;
        if (!tally->first_of_kind.count(sig))
          for (const auto& x : v.violations)
            if (x.kind == k) {
              tally->first_of_kind[sig] = {s, x};
              break;
            }
      }
      if (o.clean) break;
    }
  }
}

// Shrinks a failure and prints the minimal state.
void report_minimal(const History& h, Checker& checker, const Failure& f, const Options& o,
                    const std::string& trace) {
  Timeline t(h, f.spec.model, 64 * 1024);
  t.advance(f.spec.point);
  auto same = [&](const Verdict& v) {
    for (const auto& x : v.violations)
      if (x.kind == f.first.kind && x.key == f.first.key) return true;
    return false;
  };
  auto fails = [&](const StateSpec& s) {
    return same(checker.check(t.sweeper().build(s), t.bucket().store(), t.expectations()));
  };
  StateSpec min = shrink(t.sweeper(), f.spec, fails, 120);
  Verdict v = checker.check(t.sweeper().build(min), t.bucket().store(), t.expectations());
  std::cout << "\n--- " << model_name(min.model) << " / " << f.first.kind << " " << f.first.key << "\n";
  std::cout << "crash point @" << min.point << " ("
            << (min.point < h.ops.size() ? "before log record #" + std::to_string(h.ops[min.point].rec)
                                         : "end of the trace")
            << "); the last requests before it:\n";
  for (const auto& r : t.recent_requests()) std::cout << "  " << r << "\n";
  auto lost = t.sweeper().describe(min);
  std::cout << "lost at the crash (" << lost.size() << " of " << t.sweeper().pending().count()
            << " operations not yet durable):\n";
  // Posix states lose a suffix of a directory's or file's operations: the
  // first lost one of each is what matters, the rest go with it.
  for (size_t i = 0; i < lost.size() && i < 12; ++i) std::cout << "  " << lost[i] << "\n";
  if (lost.size() > 12) std::cout << "  ... and " << lost.size() - 12 << " more after those\n";
  if (lost.empty()) std::cout << "  nothing: every operation that returned took effect (a process crash)\n";
  std::cout << "violations:\n";
  for (const auto& x : v.violations) std::cout << "  " << x.kind << " " << x.key << ": " << x.detail << "\n";
  if (!same(v))
    std::cout << "  (" << f.first.kind << " did not recur on this run of the shrunk state: it depends on timing; "
              << "the first failing state was " << f.spec.encode() << ")\n";
  if (!v.log.empty()) {
    std::cout << "recovery log:\n";
    for (const auto& l : v.log) std::cout << "  " << l << "\n";
  }
  std::cout << "replay: " << self_path() << " --log " << trace << " --replay '" << min.encode() << "'\n";
  (void)o;
}

// "model@rN..." names the point just before request N began: resolved here.
std::string resolve_request_point(const History& h, const std::string& spec_text) {
  auto at = spec_text.find("@r");
  if (at == std::string::npos) return spec_text;
  auto end = spec_text.find(':', at);
  const std::string id = spec_text.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
  for (size_t i = 0; i < h.ops.size(); ++i) {
    const Op& o = h.ops[i];
    if (o.kind == Kind::Event && o.ev->args.size() > 1 && o.ev->args[0] == "fuse" && o.ev->args[1] == "begin" &&
        field(fields(*o.ev, 2), "id") == id)
      return spec_text.substr(0, at + 1) + std::to_string(i) +
             (end == std::string::npos ? std::string() : spec_text.substr(end));
  }
  return spec_text;
}

int replay(const History& h, Checker& checker, const std::string& given) {
  const std::string spec_text = resolve_request_point(h, given);
  auto spec = StateSpec::decode(spec_text);
  if (!spec) {
    std::cerr << "crash_check: cannot parse the state '" << spec_text << "' (model@POINT[:k=..|:m=..:d=..])\n";
    return 2;
  }
  Timeline t(h, spec->model, 64 * 1024);
  t.advance(spec->point);
  for (const auto& r : t.recent_requests()) std::cout << "  " << r << "\n";
  for (const auto& l : t.sweeper().describe(*spec)) std::cout << "lost: " << l << "\n";
  Verdict v = checker.check(t.sweeper().build(*spec), t.bucket().store(), t.expectations());
  for (const auto& x : v.violations)
    std::cout << "violation: " << x.kind << " " << x.key << ": " << x.detail << "\n";
  for (const auto& l : v.log) std::cout << "log: " << l << "\n";
  std::cout << (v.ok() ? "1 passed, 0 failed" : "0 passed, 1 failed") << "\n";
  return v.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    parse(argc, argv, &o);
  } catch (const std::exception& e) {
    std::cerr << "crash_check: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (o.record_child) {
    if (!o.bucketfs_log.empty()) bucketfs::log::set_file(o.bucketfs_log);
    RecordConfig rc;
    rc.mount = mount_config(o.cache);
    rc.mount.upload_concurrency = 2;
    rc.workload.seed = o.seed;
    rc.workload.files = o.files;
    rc.workload.ops = o.ops;
    rc.workload.dir_renames = o.dir_renames;
    std::string err = record(rc);
    if (!err.empty()) std::cerr << "crash_check (recorded run): " << err << "\n";
    return err.empty() ? 0 : 1;
  }
  const auto t0 = Clock::now();
  std::string work;
  try {
    work = make_work_dir();
  } catch (const std::exception& e) {
    std::cerr << "crash_check: " << e.what() << "\n";
    return 2;
  }
  g_work = work;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_signal);
  bucketfs::log::set_level(bucketfs::log::Level::Warn);
  bucketfs::log::set_file(work + "/bucketfs.log");
  std::string trace = o.log;
  if (trace.empty()) {
    trace = work + "/trace.log";
    const std::string shim = std::getenv("BFS_TRACE_SHIM")
                                 ? std::getenv("BFS_TRACE_SHIM")
                                 : fsys::path(self_path()).parent_path().string() + "/trace_shim.so";
    std::vector<std::string> args{"--record-child",      "--seed",         std::to_string(o.seed),  "--cache",
                                  work + "/cache",       "--files",        std::to_string(o.files), "--ops",
                                  std::to_string(o.ops), "--bucketfs-log", work + "/record.log"};
    if (!o.dir_renames) args.push_back("--no-dir-renames");
    std::string err = record_in_child(self_path(), shim, args, work + "/cache", trace, std::chrono::seconds(900));
    if (!err.empty()) {
      std::cerr << "crash_check: " << err << " (log: " << work << "/record.log)\n0 passed, 1 failed\n";
      return 1;
    }
  }
  std::string err;
  auto loaded = Trace::load(trace, &err);
  if (!loaded) {
    std::cerr << "crash_check: " << err << "\n0 passed, 1 failed\n";
    return 1;
  }
  History h = History::build(*loaded);
  for (const auto& w : loaded->warnings()) std::cout << "warning: " << w << "\n";
  for (const auto& w : h.warnings) std::cout << "warning: " << w << "\n";
  fsys::create_directories(fsys::path(h.dir).parent_path());
  g_states = h.dir;
  CheckConfig cc;
  cc.mount = mount_config(h.dir);
  cc.timeout = std::chrono::milliseconds(o.timeout_ms);
  cc.log_path = work + "/bucketfs.log";
  Checker checker(cc);
  int rc = 0;
  if (!o.replay.empty()) {
    rc = replay(h, checker, o.replay);
  } else {
    std::cout << "=== power-loss crash states: seed " << o.seed << ", trace " << loaded->records().size()
              << " records, " << h.ops.size() << " operations (workload from " << h.workload_start << ")\n";
    std::map<Model, Tally> tallies;
    for (Model m : o.models) {
      auto m0 = Clock::now();
      run_model(m, h, checker, o, o.states / o.models.size(), &tallies[m]);
      const Tally& t = tallies[m];
      std::cout << model_name(m) << ": " << t.checked << " states at " << t.points << " crash points, "
                << t.checked - t.failed << " passed, " << t.failed << " failed ("
                << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - m0).count() << " s)\n";
    }
    size_t checked = 0, failed = 0;
    std::string kept = trace;
    for (auto& [m, t] : tallies) {
      checked += t.checked;
      failed += t.failed;
    }
    if (failed > 0 && o.log.empty()) {
      kept = o.keep + "/bucketfs-crash-" + std::to_string(o.seed) + "-" + std::to_string(::getpid()) + ".log";
      std::error_code ec;
      fsys::copy_file(trace, kept, fsys::copy_options::overwrite_existing, ec);
      if (ec) kept = trace + " (could not keep it: " + ec.message() + ")";
    }
    int shrunk = 0;
    for (auto& [m, t] : tallies)
      for (auto& [sig, f] : t.first_of_kind)
        if (shrunk++ < o.shrink) report_minimal(h, checker, f, o, kept);
    std::cout << "\n=== summary (seed " << o.seed << ")\n";
    for (auto& [m, t] : tallies) {
      std::cout << model_name(m) << ": " << t.checked << " states, " << t.failed << " failed";
      for (const auto& [k, n] : t.kinds) std::cout << ", " << k << " " << n;
      std::cout << "; " << t.with_orphans << " left an orphan multipart upload no record knew (not counted)\n";
    }
    std::cout << "elapsed: " << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0).count()
              << " s\n";
    std::cout << checked - failed << " passed, " << failed << " failed\n";
    rc = failed == 0 && checked > 0 ? 0 : 1;
  }
  remove_tree(work, nullptr);
  remove_tree(h.dir, nullptr);
  ::rmdir(fsys::path(h.dir).parent_path().c_str());  // a kept trace's states dir, when empty
  return rc;
}
