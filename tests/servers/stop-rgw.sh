#!/usr/bin/env bash
# stop-rgw.sh - stop the daemons started by start-rgw.sh, by the PIDs in
# DIR/run/*.pid only (never by name), newest first; then optionally delete DIR.
# Usage: stop-rgw.sh DIR [--purge]
# Safe to call twice, on a half-started cluster, or on a missing DIR.
set -uo pipefail
# finish even when the caller's process group is being signalled (Ctrl-C, a
# runner's timeout): an interrupted stop would leave daemons behind
trap '' INT TERM HUP
DIR=${1:?usage: stop-rgw.sh DIR [--purge]}
PURGE=${2:-}
if [ ! -d "$DIR/run" ]; then
  [ "$PURGE" = --purge ] && [ -f "$DIR/ceph.conf" ] && rm -rf "$DIR"
  exit 0
fi
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/ceph.conf

# is $1 still the daemon we started? (guards against PID reuse: its cmdline names our conf)
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$CONF"; }
# finished = no such pid, or a zombie whose threads have all exited (its sockets and memory
# are released; in a container without a reaping init it may stay a zombie)
finished() {
  [ -e "/proc/$1" ] || return 0
  awk '/^State:/{z=($2=="Z")} /^Threads:/{t=$2} END{exit !(z && t<=1)}' "/proc/$1/status" 2>/dev/null
}
wait_finished() {
  local _
  for _ in $(seq 1 "$2"); do
    finished "$1" && return 0
    sleep 0.1
  done
  return 1
}

# reverse start order: rgw first, mon last. The PID we recorded (NAME.pid) and
# the one the daemon wrote itself (NAME.daemon-pid) are normally the same.
for name in rgw.a mgr.x osd.0 mon.a; do
  # shellcheck disable=SC2013 # one PID per file
  for pid in $(cat "$DIR/run/$name.pid" "$DIR/run/$name.daemon-pid" 2>/dev/null | sort -u); do
    if ! [[ $pid =~ ^[0-9]+$ ]] || ! ours "$pid"; then continue; fi
    kill -TERM "$pid" 2>/dev/null
    if ! wait_finished "$pid" 100; then # up to 10 s
      echo "stop-rgw: $name ($pid) ignored SIGTERM, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
      wait_finished "$pid" 50
    fi
    echo "stop-rgw: stopped $name (pid $pid)" >&2
  done
  rm -f "$DIR/run/$name.pid" "$DIR/run/$name.daemon-pid"
done
rm -f "$DIR/env"
if [ "$PURGE" = --purge ]; then rm -rf "$DIR"; fi
exit 0
