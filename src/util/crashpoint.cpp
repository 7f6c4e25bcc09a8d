// crashpoint.cpp - see crashpoint.hpp.
#include "bucketfs/util/crashpoint.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "bucketfs/util/fd.hpp"

namespace bucketfs::crashpoint {

std::atomic<int> g_state{0};

namespace {
std::once_flag g_once;
std::string g_pattern;
long g_target = 1;
std::atomic<long> g_hits{0};

bool matches(const char* name) {
  if (!g_pattern.empty() && g_pattern.back() == '*')
    return std::strncmp(name, g_pattern.data(), g_pattern.size() - 1) == 0;
  return g_pattern == name;
}
}  // namespace

void init() {
  std::call_once(g_once, [] {
    const char* spec = std::getenv("BUCKETFS_CRASH_AT");
    if (spec == nullptr || *spec == '\0') {
      g_state.store(1);
      return;
    }
    g_pattern = spec;
    if (auto colon = g_pattern.rfind(':'); colon != std::string::npos) {
      g_target = std::max(1L, std::strtol(g_pattern.c_str() + colon + 1, nullptr, 10));
      g_pattern.resize(colon);
    }
    g_state.store(2);
  });
}

void hit(const char* name) {
  if (!matches(name) || g_hits.fetch_add(1) + 1 != g_target) return;
  if (const char* note = std::getenv("BUCKETFS_CRASH_NOTE")) {
    Fd fd(::open(note, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd) {
      std::string line = std::string(name) + "\n";
      (void)!::write(fd.get(), line.data(), line.size());
    }
  }
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached
}

}  // namespace bucketfs::crashpoint
