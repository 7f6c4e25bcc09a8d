// sd_notify.hpp - systemd readiness notification without libsystemd.
//
// Under a unit with Type=notify, systemd passes NOTIFY_SOCKET (a path, or
// "@name" for the abstract namespace) and waits for a datagram saying
// "READY=1" before it considers the service started. Outside systemd the
// variable is unset and every function here does nothing.
//
// Errors: none reported beyond the bool; a failed notification must never
// stop a mount (systemd's start timeout reports it). Thread-safety: reentrant;
// reads the environment, so do not call while another thread calls setenv().
#pragma once

#include <string>

namespace bucketfs::cli {

// Sends state (newline-separated "KEY=VALUE" lines, see sd_notify(3)) to
// $NOTIFY_SOCKET. Returns false when the variable is unset or invalid, or the
// send failed.
bool sd_notify_send(const std::string& state);

// "READY=1", STATUS=status and MAINPID=this process: call once the mount is up
// and serving (after daemonizing, so MAINPID names the process that stays).
bool sd_notify_ready(const std::string& status);

// "STOPPING=1" and STATUS=status: call when the unmount begins, so systemd
// shows why the service is still running while uploads in flight finish.
bool sd_notify_stopping(const std::string& status);

}  // namespace bucketfs::cli
