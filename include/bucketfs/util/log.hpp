// log.hpp - leveled logging to stderr, a file, or syslog.
//
// Thread-safe: each line is written with one write()/syslog() call under a
// mutex. Never pass a Secret or a header map containing Authorization here.
// Messages are written through printable(): a key name cannot forge a log
// line or send escape sequences to the terminal that shows the log.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace bucketfs::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3 };
enum class Sink { Stderr, File, Syslog };

// Configure once at start (not thread-safe against concurrent logging).
void set_level(Level level);
Level level();
// Appends to path (created 0600). Never follows a symlink, and refuses anything
// but a regular file of the effective user with one link (a planted hard link
// or FIFO): returns the reason, one line, and leaves the sink unchanged; ""
// when the file is the sink now.
std::string set_file(const std::string& path);
void set_syslog(const char* ident);
void set_stderr();
// Parses "error|warn|info|debug"; returns false on an unknown name.
bool parse_level(const std::string& name, Level* out);

void write(Level level, const std::string& message);

// s with what a terminal or a log reader could mistake for control written as
// \xNN: C0 controls (newline, escape, ...), DEL, C1 controls (U+0080..U+009F)
// and bytes that are not valid UTF-8. Valid UTF-8 text passes unchanged.
std::string printable(std::string_view s);
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

}  // namespace bucketfs::log

#define BFS_LOG(lvl, expr)                                                    \
  do {                                                                        \
    if (::bucketfs::log::enabled(::bucketfs::log::Level::lvl)) {              \
      std::ostringstream bfs_log_os_;                                         \
      bfs_log_os_ << expr;                                                    \
      ::bucketfs::log::write(::bucketfs::log::Level::lvl, bfs_log_os_.str()); \
    }                                                                         \
  } while (0)
#define LOG_ERROR(expr) BFS_LOG(Error, expr)
#define LOG_WARN(expr) BFS_LOG(Warn, expr)
#define LOG_INFO(expr) BFS_LOG(Info, expr)
#define LOG_DEBUG(expr) BFS_LOG(Debug, expr)
