// trace_log.cpp - see trace_log.hpp.
#include "trace_log.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace crash {
namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool read_all(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  ::close(fd);
  return n == 0;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string escape_token(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  if (s.empty()) return "%00";
  std::string out;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string unescape_token(std::string_view s) {
  if (s == "%00") return "";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<Trace> Trace::load(const std::string& path, std::string* error) {
  Trace t;
  t.buf_ = std::make_unique<std::string>();
  if (!read_all(path, t.buf_.get())) {
    *error = "cannot read the trace " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const std::string& b = *t.buf_;
  size_t pos = 0;
  while (pos < b.size()) {
    size_t nl = b.find('\n', pos);
    if (nl == std::string::npos) {
      t.warnings_.push_back("the last record is cut short (the writer was killed): dropped");
      break;
    }
    std::string_view line(b.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    auto toks = split(line);
    Record r;
    r.index = t.records_.size();
    r.op = std::string(toks[0]);
    size_t n = toks.size();
    if (n > 1 && toks[n - 1].size() > 1 && toks[n - 1][0] == '#') {
      size_t len = std::strtoull(std::string(toks[n - 1].substr(1)).c_str(), nullptr, 10);
      if (pos + len + 1 > b.size() || b[pos + len] != '\n') {
        if (pos + len + 1 > b.size()) {
          t.warnings_.push_back("the last record's payload is cut short: dropped");
          break;
        }
        *error = "trace " + path + ": record " + std::to_string(r.index) + " (" + r.op +
                 ") has a payload that does not end where its length says";
        return std::nullopt;
      }
      r.data = std::string_view(b.data() + pos, len);
      r.has_data = true;
      pos += len + 1;
      --n;
    }
    for (size_t i = 1; i < n; ++i) r.args.push_back(r.op == "ev" ? std::string(toks[i]) : unescape_token(toks[i]));
    if (r.op == "begin" && !r.args.empty()) t.dir_ = r.args[0];
    t.records_.push_back(std::move(r));
  }
  if (t.dir_.empty()) {
    *error = "trace " + path + " has no \"begin\" record: was the program run under the shim, and did it begin?";
    return std::nullopt;
  }
  return t;
}

std::map<std::string, std::string> fields(const Record& r, size_t from) {
  std::map<std::string, std::string> out;
  for (size_t i = from; i < r.args.size(); ++i) {
    auto eq = r.args[i].find('=');
    if (eq == std::string::npos)
      out[r.args[i]] = "";
    else
      out[r.args[i].substr(0, eq)] = unescape_token(std::string_view(r.args[i]).substr(eq + 1));
  }
  return out;
}

std::string field(const std::map<std::string, std::string>& f, const std::string& k, const std::string& def) {
  auto it = f.find(k);
  return it == f.end() ? def : it->second;
}

namespace {
using EventFn = void (*)(const char*, const void*, size_t);
using BeginFn = int (*)();
using VoidFn = void (*)();
using ActiveFn = int (*)();
template <class F>
F lookup(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_DEFAULT, name));
}
}  // namespace

bool EventLog::active() {
  static ActiveFn fn = lookup<ActiveFn>("bfs_trace_active");
  return fn && fn() != 0;
}

void EventLog::emit(const std::string& text, const void* data, size_t len) {
  static EventFn fn = lookup<EventFn>("bfs_trace_event");
  if (fn) fn(text.c_str(), data, len);
}

std::string EventLog::kv(const std::string& k, std::string_view v) { return " " + k + "=" + escape_token(v); }

bool EventLog::begin() {
  static BeginFn fn = lookup<BeginFn>("bfs_trace_begin");
  return fn && fn() == 0;
}

void EventLog::end() {
  static VoidFn fn = lookup<VoidFn>("bfs_trace_end");
  if (fn) fn();
}

}  // namespace crash
