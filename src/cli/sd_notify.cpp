// sd_notify.cpp - see sd_notify.hpp. The protocol is one datagram on a Unix
// socket (systemd's sd_notify(3)); implementing it here keeps libsystemd out
// of the dependencies.
#include "bucketfs/cli/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "bucketfs/util/fd.hpp"

namespace bucketfs::cli {
namespace {

// STATUS= is one line: a newline would start a new (bogus) assignment.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

bool sd_notify_send(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return false;
  // Only a filesystem path or an abstract name ("@..."); systemd also allows
  // vsock addresses, which a filesystem mount has no use for.
  if (path[0] != '/' && path[0] != '@') return false;

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);

  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  ssize_t sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&addr), addr_len);
  return sent == static_cast<ssize_t>(state.size());
}

bool sd_notify_ready(const std::string& status) {
  return sd_notify_send("READY=1\nSTATUS=" + one_line(status) + "\nMAINPID=" + std::to_string(::getpid()));
}

bool sd_notify_stopping(const std::string& status) {
  return sd_notify_send("STOPPING=1\nSTATUS=" + one_line(status));
}

}  // namespace bucketfs::cli
