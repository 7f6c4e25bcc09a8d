#!/usr/bin/env bash
# stop-s3rver.sh - stop the s3rver started by start-s3rver.sh, by the PID in
# DIR/run/s3rver.pid only (never by name); then optionally delete DIR.
# Usage: stop-s3rver.sh DIR [--purge]
# Safe to call twice, after a failed start, or on a missing DIR.
set -uo pipefail
# finish even when the caller's process group is being signalled (Ctrl-C, a
# runner's timeout): an interrupted stop would leave the server behind
trap '' INT TERM HUP
DIR=${1:?usage: stop-s3rver.sh DIR [--purge]}
PURGE=${2:-}
if [ ! -d "$DIR/run" ]; then
  [ "$PURGE" = --purge ] && [ -d "$DIR/data" ] && rm -rf "$DIR"
  exit 0
fi
DIR=$(cd "$DIR" && pwd)

# is $1 still the process we started? (guards against PID reuse)
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "s3rver-run.js $DIR/data"; }
# finished = gone, or a zombie whose threads have all exited (port and memory released)
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

f=$DIR/run/s3rver.pid
if [ -f "$f" ]; then
  pid=$(cat "$f")
  if [[ $pid =~ ^[0-9]+$ ]] && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    if ! wait_finished "$pid" 50; then # up to 5 s
      echo "stop-s3rver: pid $pid ignored SIGTERM, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
      wait_finished "$pid" 50
    fi
    echo "stop-s3rver: stopped s3rver (pid $pid)" >&2
  fi
  rm -f "$f"
fi
rm -f "$DIR/env" "$DIR/run/port"
if [ "$PURGE" = --purge ]; then rm -rf "$DIR"; fi
exit 0
