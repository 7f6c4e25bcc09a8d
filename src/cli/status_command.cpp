// status_command.cpp - see status_command.hpp.
#include "bucketfs/cli/status_command.hpp"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "bucketfs/checkpoint/checkpoint_store.hpp"
#include "bucketfs/cli/app.hpp"
#include "bucketfs/cli/mount_layout.hpp"
#include "bucketfs/cli/options.hpp"
#include "bucketfs/cli/runtime_registry.hpp"
#include "bucketfs/creds/timestamps.hpp"
#include "bucketfs/stage/staging_area.hpp"
#include "bucketfs/upload/recovery.hpp"
#include "bucketfs/util/fd.hpp"
#include "bucketfs/util/log.hpp"

namespace bucketfs::cli {
namespace {

using checkpoint::UploadRecord;

std::string human(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

std::string record_json(const UploadRecord& r) {
  std::ostringstream o;
  o << "{\"key\":" << json_str(r.key) << ",\"size\":" << r.size << ",\"bytes_done\":" << r.bytes_done()
    << ",\"parts_done\":" << r.parts.size() << ",\"parts_total\":" << r.parts_total()
    << ",\"part_size\":" << r.part_size << ",\"state\":" << json_str(checkpoint::state_name(r.state))
    << ",\"attempts\":" << r.attempts << ",\"generation\":" << r.generation
    << ",\"upload_id\":" << json_str(r.upload_id) << ",\"staging_path\":" << json_str(r.staging_path)
    << ",\"last_error\":" << json_str(r.last_error) << ",\"updated\":" << r.updated << "}";
  return o.str();
}

std::string bar(double frac, int width) {
  if (width < 3) return "";
  int fill = static_cast<int>(frac * width + 0.5);
  if (fill > width) fill = width;
  return "[" + std::string(static_cast<size_t>(fill), '#') + std::string(static_cast<size_t>(width - fill), '.') +
         "]";
}

bool load(const std::string& state_dir, StatusSnapshot* out, std::string* err) {
  out->state_dir = state_dir;
  auto cp = checkpoint::CheckpointStore::open(state_dir + "/checkpoint", true);
  if (!cp) {
    *err = cp.error().message;
    return false;
  }
  auto all = (*cp)->load_all();
  if (!all) {
    *err = all.error().message;
    return false;
  }
  auto failed = (*cp)->load_failed();
  if (!failed) {
    *err = failed.error().message;
    return false;
  }
  // Pending is what the staged files' closed marks say (the truth, see
  // upload/recovery.hpp), with the progress the records add.
  out->damaged = all->damaged.size();
  out->failed = std::move(*failed);
  const std::string staging_dir = state_dir + "/staging";
  struct stat st;
  if (::stat(staging_dir.c_str(), &st) != 0) return true;  // nothing was ever staged
  auto staging = stage::StagingArea::open(staging_dir, 0);
  if (!staging) {
    *err = staging.error();
    return false;
  }
  auto plan = upload::plan_recovery((*staging)->scan(false), all->good, out->failed, "", "");
  // An upload that gave up is shown once, in the failed table (a mount, or
  // `bucketfs retry`, tries it again).
  const std::set<std::string> gave_up(plan.unfail.begin(), plan.unfail.end());
  for (auto& u : plan.uploads) {
    if (gave_up.count(u.file.mark.key)) continue;
    out->pending.push_back(u.progress ? std::move(*u.progress) : upload::fresh_record(u.file, ""));
  }
  for (auto& f : plan.failed) {
    f.record.state = checkpoint::UploadState::Failed;
    f.record.last_error = f.reason;
    out->failed.push_back(std::move(f.record));
  }
  return true;
}

int terminal_width() {
  struct winsize ws;
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

// State dirs named by the arguments: the registered one of MOUNTPOINT, or
// every state dir of --bucket under --cache-dir.
std::vector<std::string> find_state_dirs(const std::string& cache_dir, const std::string& mountpoint,
                                         const std::string& bucket) {
  std::vector<std::string> dirs;
  if (!mountpoint.empty()) {
    std::string d = lookup_mount(cache_dir, mountpoint);
    if (!d.empty()) dirs.push_back(d);
    return dirs;
  }
  for (auto& d : list_state_dirs(cache_dir)) {
    std::string n = d.substr(d.rfind('/') + 1);
    if (bucket.empty() || n.rfind(bucket + "-", 0) == 0) dirs.push_back(d);
  }
  return dirs;
}

}  // namespace

std::vector<std::string> list_state_dirs(const std::string& cache_dir) {
  std::vector<std::string> dirs;
  std::vector<std::string> names;
  (void)list_dir(cache_dir, &names);  // none when it cannot be read
  for (const auto& n : names) {
    if (n == "mounts") continue;
    struct stat st;
    std::string path = cache_dir + "/" + n;
    if (::stat((path + "/checkpoint").c_str(), &st) == 0 || ::stat((path + "/staging").c_str(), &st) == 0)
      dirs.push_back(path);
  }
  return dirs;
}

std::string render_mount(const MountStatus& m) {
  std::ostringstream o;
  o << "mount: " << m.mountpoint
    << (m.running ? " (running, pid " + std::to_string(m.pid) + ")" : " (not running)");
  if (m.running && !m.metrics.empty()) o << ", metrics at http://" << m.metrics << "/metrics";
  o << "\n";
  if (!m.running || m.credentials_source.empty()) return o.str();
  o << "credentials: " << m.credentials_source;
  if (!m.credentials_usable) {
    o << "; EXPIRED"
      << (m.credentials_expiration ? " at " + creds::format_timestamp(m.credentials_expiration) : "");
    if (!m.credentials_error.empty())
      o << "; refreshing has failed since " << creds::format_timestamp(m.credentials_failing_since) << ": "
        << m.credentials_error;
    o << "; uploads wait (checkpointed) until a refresh succeeds";
  } else {
    if (m.credentials_expiration) o << ", valid until " << creds::format_timestamp(m.credentials_expiration);
    if (!m.credentials_error.empty())
      o << "; refreshing fails since " << creds::format_timestamp(m.credentials_failing_since) << " ("
        << m.credentials_error << "), retrying";
  }
  o << "\n";
  return o.str();
}

std::string render_plain(const StatusSnapshot& s) {
  std::ostringstream o;
  if (s.mount) o << render_mount(*s.mount);
  if (s.pending.empty() && s.failed.empty() && s.damaged == 0) return o.str() + "nothing pending\n";
  for (const auto& r : s.pending) {
    o << log::printable(r.key) << "\t" << r.size << " bytes\tparts " << r.parts.size() << "/" << r.parts_total()
      << "\tuploaded " << r.bytes_done() << "/" << r.size << "\t" << checkpoint::state_name(r.state)
      << "\tattempts " << r.attempts;
    if (!r.last_error.empty()) o << "\terror: " << log::printable(r.last_error);
    o << "\n";
  }
  for (const auto& r : s.failed)
    o << log::printable(r.key) << "\t" << r.size << " bytes\tFAILED\t" << log::printable(r.last_error)
      << "\t(staging " << log::printable(r.staging_path) << ")\n";
  if (s.damaged > 0)
    o << s.damaged << " damaged checkpoint record(s): run `bucketfs recover` to re-queue the staged files\n";
  uint64_t total = 0, done = 0;
  for (const auto& r : s.pending) {
    total += r.size;
    done += r.bytes_done();
  }
  o << "total: " << s.pending.size() << " pending, " << s.failed.size() << " failed, " << done << "/" << total
    << " bytes uploaded\n";
  return o.str();
}

std::string render_json(const StatusSnapshot& s) {
  std::ostringstream o;
  uint64_t total = 0, done = 0;
  for (const auto& r : s.pending) {
    total += r.size;
    done += r.bytes_done();
  }
  o << "{\"version\":1,\"state_dir\":" << json_str(s.state_dir);
  if (s.mount) {
    const MountStatus& m = *s.mount;
    o << ",\"mount\":{\"mountpoint\":" << json_str(m.mountpoint)
      << ",\"running\":" << (m.running ? "true" : "false") << ",\"pid\":" << m.pid
      << ",\"metrics\":" << json_str(m.metrics)
      << ",\"credentials\":{\"source\":" << json_str(m.credentials_source)
      << ",\"valid\":" << (m.credentials_usable ? "true" : "false")
      << ",\"expiration\":" << m.credentials_expiration << ",\"error\":" << json_str(m.credentials_error)
      << ",\"failing_since\":" << m.credentials_failing_since << "}}";
  }
  o << ",\"pending\":[";
  for (size_t i = 0; i < s.pending.size(); ++i) o << (i ? "," : "") << record_json(s.pending[i]);
  o << "],\"failed\":[";
  for (size_t i = 0; i < s.failed.size(); ++i) o << (i ? "," : "") << record_json(s.failed[i]);
  o << "],\"damaged\":" << s.damaged << ",\"total\":{\"files\":" << s.pending.size() << ",\"bytes\":" << total
    << ",\"bytes_done\":" << done << "}}\n";
  return o.str();
}

std::string render_tty(const StatusSnapshot& s, const Rates& rates, int width) {
  std::ostringstream o;
  if (s.mount) o << render_mount(*s.mount);
  if (s.pending.empty() && s.failed.empty() && s.damaged == 0) return o.str() + "nothing pending\n";
  std::map<std::string, double> rate(rates.begin(), rates.end());
  uint64_t total = 0, done = 0;
  double total_rate = 0;
  for (const auto& r : s.pending) {
    double frac = r.size ? static_cast<double>(r.bytes_done()) / static_cast<double>(r.size) : 0.0;
    total += r.size;
    done += r.bytes_done();
    std::string tail = " " + std::to_string(static_cast<int>(frac * 100)) + "% " + human(r.bytes_done()) + "/" +
                       human(r.size) + " parts " + std::to_string(r.parts.size()) + "/" +
                       std::to_string(r.parts_total()) + " " + checkpoint::state_name(r.state);
    auto it = rate.find(r.key);
    if (it != rate.end() && it->second > 0) {
      total_rate += it->second;
      tail += " " + human(it->second) + "/s ETA " +
              std::to_string(static_cast<int>((r.size - r.bytes_done()) / it->second)) + "s";
    }
    const std::string shown = log::printable(r.key);  // a key could hold terminal escapes
    std::string key = shown.size() > 30 ? "..." + shown.substr(shown.size() - 27) : shown;
    // The bar takes what the key and the figures leave (10 to 40 columns);
    // the last error gets a line of its own, cut to the terminal's width.
    int barw = std::clamp(width - static_cast<int>(key.size() + tail.size()) - 4, 10, 40);  // " [" "]" and a spare
    std::string line = key + " " + bar(frac, barw) + tail;
    if (static_cast<int>(line.size()) > width) line.resize(static_cast<size_t>(width));
    o << line << "\n";
    if (!r.last_error.empty()) {
      std::string err =
          "    last error (attempt " + std::to_string(r.attempts) + "): " + log::printable(r.last_error);
      if (static_cast<int>(err.size()) > width) err.resize(static_cast<size_t>(width));
      o << err << "\n";
    }
  }
  for (const auto& r : s.failed) {
    std::string line = log::printable(r.key) + " FAILED: " + log::printable(r.last_error);
    if (static_cast<int>(line.size()) > width) line.resize(static_cast<size_t>(width));
    o << line << "\n";
  }
  if (s.damaged > 0) o << s.damaged << " damaged record(s): run `bucketfs recover`\n";
  o << "total " << bar(total ? static_cast<double>(done) / static_cast<double>(total) : 1.0, 20) << " "
    << human(static_cast<double>(done)) << "/" << human(static_cast<double>(total)) << " in " << s.pending.size()
    << " file(s)";
  if (total_rate > 0) o << ", " << human(total_rate) << "/s";
  o << "\n";
  return o.str();
}

std::vector<std::string> locate_state_dirs(const std::string& mountpoint, std::string cache_dir,
                                           const std::string& bucket, const std::string& state_dir,
                                           MountRecord* record, bool* have_record, std::string* error) {
  // A mount registers itself in the runtime directory: found whatever its
  // cache_dir. --cache-dir (or --state-dir) asks for that place explicitly.
  const bool by_record = !mountpoint.empty() && state_dir.empty() && cache_dir.empty();
  *have_record = by_record && find_mount_record(mountpoint, record);
  if (cache_dir.empty() && state_dir.empty() && !*have_record) {
    auto d = process_cache_dir();
    if (!d) {
      *error = kNoCacheDir;
      return {};
    }
    cache_dir = *d;
  }
  std::vector<std::string> dirs;
  if (!state_dir.empty())
    dirs.push_back(state_dir);
  else if (*have_record)
    dirs.push_back(record->state_dir);
  else
    dirs = find_state_dirs(cache_dir, mountpoint, bucket);
  if (dirs.empty()) {
    if (!mountpoint.empty())
      *error =
          "no bucketfs mount is registered at " + mountpoint + " (a running mount registers under " +
          runtime_dir() + ") and " + cache_dir +
          " has no state for it; for a mount that is not running, give the cache_dir it used: --cache-dir DIR";
    else
      *error = "no bucketfs state under " + cache_dir;
  }
  return dirs;
}

namespace {

// What the mount's runtime record says, for the status lines.
MountStatus mount_status(const MountRecord& record) { return MountStatus{record, mount_is_live(record)}; }

// Every state dir's pending, failed and damaged records, into *all.
bool load_all(const std::vector<std::string>& dirs, StatusSnapshot* all, std::string* err) {
  for (const auto& d : dirs) {
    StatusSnapshot s;
    if (!load(d, &s, err)) return false;
    all->state_dir = s.state_dir;
    all->pending.insert(all->pending.end(), s.pending.begin(), s.pending.end());
    all->failed.insert(all->failed.end(), s.failed.begin(), s.failed.end());
    all->damaged += s.damaged;
  }
  return true;
}

// Bytes done per key at the previous refresh (watch mode).
using Progress = std::map<std::string, std::pair<uint64_t, std::chrono::steady_clock::time_point>>;

// Each pending file's rate since the previous refresh; updates *last.
Rates measure_rates(const StatusSnapshot& all, Progress* last) {
  Rates rates;
  auto now = std::chrono::steady_clock::now();
  for (const auto& r : all.pending) {
    auto it = last->find(r.key);
    if (it != last->end()) {
      double dt = std::chrono::duration<double>(now - it->second.second).count();
      if (dt > 0 && r.bytes_done() >= it->second.first)
        rates.emplace_back(r.key, static_cast<double>(r.bytes_done() - it->second.first) / dt);
    }
    (*last)[r.key] = {r.bytes_done(), now};
  }
  return rates;
}

}  // namespace

namespace {

const char* kStatusUsage =
    "usage: bucketfs status [MOUNTPOINT] [--cache-dir DIR [--bucket B]] [--json] [--wait] [--watch]"
    " [--timeout SEC]\n"
    "A mount is found by its MOUNTPOINT; --cache-dir DIR (its cache_dir) is needed only for a mount\n"
    "that is not running and whose record is gone (after a reboot).\n";

// Shows the state dirs' pending uploads once, or (--wait, --watch) until
// nothing is pending or the timeout passes; the exit code of status.
int show_status(const std::vector<std::string>& dirs, const std::string& mountpoint, MountRecord record,
                bool have_record, const MountConfig::Subcommand& o) {
  bool tty = ::isatty(STDOUT_FILENO) && !o.json;
  auto start = std::chrono::steady_clock::now();
  Progress last;
  int lines_drawn = 0;
  for (;;) {
    StatusSnapshot all;
    if (have_record) {
      find_mount_record(mountpoint, &record);  // the credentials' state may have changed
      all.mount = mount_status(record);
    }
    std::string err;
    if (!load_all(dirs, &all, &err)) {
      std::cerr << "bucketfs status: " << err << "\n";
      return 1;
    }
    bool finished = all.pending.empty();
    if (o.json) {
      if (!o.wait || finished) std::cout << render_json(all);
    } else if (tty) {
      std::string out = render_tty(all, measure_rates(all, &last), terminal_width());
      // Redraw in place: move up over what the previous refresh drew.
      if (lines_drawn > 0) std::cout << "\033[" << lines_drawn << "A\033[J";
      std::cout << out << std::flush;
      lines_drawn = static_cast<int>(std::count(out.begin(), out.end(), '\n'));
    } else if (!o.wait || finished) {
      std::cout << render_plain(all);
    }
    if ((!o.wait && !o.watch) || finished) return (o.wait && !all.failed.empty()) ? 1 : 0;
    if (o.timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.timeout_s) {
      if (!o.json) std::cerr << "bucketfs status: still pending after " << o.timeout_s << " s\n";
      return 3;
    }
    // A terminal is redrawn each second; a script waiting (--wait) learns of
    // the end within 100 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 1000 : o.wait ? 100 : 250));
  }
}

}  // namespace

int status_main(const std::vector<std::string>& args) {
  Command line;
  if (int rc = parse_subcommand_args(CommandKind::Status, args, kStatusUsage, &line); rc >= 0) return rc;
  if (line.operands.size() > 1) {
    std::cerr << "bucketfs status: more than one mountpoint given\n";
    return 2;
  }
  const MountConfig& o = line.config;
  const std::string mountpoint = line.operands.empty() ? "" : line.operands[0];
  MountRecord record;
  bool have_record = false;
  std::string error;
  const std::vector<std::string> dirs =
      locate_state_dirs(mountpoint, o.cache_dir, o.bucket, o.sub.state_dir, &record, &have_record, &error);
  if (dirs.empty()) {
    std::cerr << "bucketfs status: " << error << "\n";
    return 1;
  }
  return show_status(dirs, mountpoint, record, have_record, o.sub);
}

}  // namespace bucketfs::cli
