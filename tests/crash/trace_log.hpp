// trace_log.hpp - the recorder's log (format: trace_shim_core.c), parsed, and
// the program side of it: appending events to the same ordered log.
//
// Events are "ev <kind> k=v k=v ..." records; values are tokens
// (escape_token). The kinds the harness writes and reads:
//   ev fuse begin id=N op=close|fsync|unlink|rename|chmod|fsyncdir path=P [to=Q]
//                      [sha=.. size=.. mode=.. uid=.. gid=.. mtime=..] [writer=0|1]
//   ev fuse end id=N rc=R          (the request was answered)
//   ev bucket-init key=K sha=.. size=.. mode=.. uid=.. gid=.. mtime=..
//   ev store op=... key=K ...      (a bucket mutation applied, see bucket_replay.hpp)
//   ev workload-start / ev workload-end
// Thread-safety: a Trace is immutable once loaded; EventLog::emit may be
// called from any thread (the shim serialises).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crash {

struct Record {
  std::string op;                 // first token ("write", "ev", ...)
  std::vector<std::string> args;  // the other tokens, decoded (payload marker excluded)
  std::string_view data;          // the payload (into the Trace's buffer)
  bool has_data = false;
  size_t index = 0;  // position in the log (0-based)
};

class Trace {
 public:
  // Reads the whole log; nullopt and *error (one line) when it cannot be
  // read or a record is malformed (a record cut short at the end, as a
  // killed writer leaves it, is dropped with a warning instead).
  static std::optional<Trace> load(const std::string& path, std::string* error);

  const std::string& dir() const { return dir_; }  // the traced directory (from "begin")
  const std::vector<Record>& records() const { return records_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::unique_ptr<std::string> buf_;  // owns the payload bytes the records point into
  std::string dir_;
  std::vector<Record> records_;
  std::vector<std::string> warnings_;
};

// Percent-encoding of a token, as the shim writes paths ("" is "%00").
std::string escape_token(std::string_view s);
std::string unescape_token(std::string_view s);

// The k=v fields of an event record from args[from] on (values decoded).
std::map<std::string, std::string> fields(const Record& r, size_t from = 0);
// A field's value, or def.
std::string field(const std::map<std::string, std::string>& f, const std::string& k, const std::string& def = "");

// Appends events to the shim's log (bfs_trace_event, found with dlsym).
class EventLog {
 public:
  // Whether the shim is loaded and tracing.
  static bool active();
  // text: "kind k=v ..." with values already escaped (see kv()).
  static void emit(const std::string& text, const void* data = nullptr, size_t len = 0);
  // " k=<escaped v>"
  static std::string kv(const std::string& k, std::string_view v);
  static bool begin();  // bfs_trace_begin; false without the shim
  static void end();
};

}  // namespace crash
