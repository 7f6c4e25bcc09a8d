# mount.sh - sourced by the integration tests that mount bucketfs (after
# tests/lib/common.sh and with_server): m_mount/m_umount/m_cleanup and the
# options for the current server. Needs BIN (the bucketfs binary) and T_TMP.
# shellcheck shell=bash
M_LOG=$T_TMP/bucketfs.log
printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$T_TMP/passwd"
chmod 600 "$T_TMP/passwd"
m_sigv() { if [ -n "${M_SIGV:-}" ]; then echo "$M_SIGV"; elif [ "$S3_SERVER" = s3rver ]; then echo 2; else echo 4; fi; }
m_opts() { echo "url=$S3_ENDPOINT,region=$S3_REGION,sigv=$(m_sigv),passwd_file=$T_TMP/passwd,cache_dir=$T_TMP/cache"; }
m_is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
# m_mount MNT [ARGS...]: bucketfs -f in the background; waits for the mount (20 s).
# Mounts $M_SPEC if set (e.g. "$S3_BUCKET:/prefix"), else the bucket.
m_mount() {
  local mnt=$1 pid i
  shift
  mkdir -p "$mnt"
  "$BIN" "${M_SPEC:-$S3_BUCKET}" "$mnt" -f -o "$(m_opts)" "$@" >>"$M_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$T_TMP/pid.$(basename "$mnt")"
  t_cleanup_push m_cleanup "$mnt" "$pid"
  for i in $(seq 1 100); do
    m_is_mounted "$mnt" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "mount of $mnt did not appear; log:" >&2
  tail -n 5 "$M_LOG" >&2
  return 1
}
# m_cleanup MNT PID: unmount if mounted, then make sure PID is gone
m_cleanup() {
  local i
  if m_is_mounted "$1"; then fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null; fi
  for i in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -TERM "$2" 2>/dev/null
  sleep 1
  kill -KILL "$2" 2>/dev/null
  return 0
}
# m_umount MNT: unmount and wait for the process to exit
m_umount() { m_cleanup "$1" "$(cat "$T_TMP/pid.$(basename "$1")")"; }

# --- the mount's upload state, through `bucketfs status` (needs MNT) ---
status_json() { "$BIN" status "$MNT" --json 2>/dev/null; }
# st_get KEY FIELD: FIELD of KEY's pending record in status --json ("" if none)
st_get() {
  status_json | grep -o "{\"key\":\"$1\"[^}]*}" | head -n 1 |
    grep -o "\"$2\":\(\"[^\"]*\"\|[0-9-]*\)" | sed 's/^[^:]*://; s/"//g'
}
# wait_idle [SEC]: status --wait (0 when nothing is pending; default 240 s)
wait_idle() { "$BIN" status "$MNT" --wait --timeout "${1:-240}" >/dev/null 2>&1; }
# wait_parts KEY N [SEC]: until KEY's record has N parts done (default 60 s); status 1 if not
wait_parts() {
  local pd i
  for i in $(seq 1 $((${3:-60} * 20))); do
    pd=$(st_get "$1" parts_done)
    [ "${pd:-0}" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
# same_in_bucket NAME KEY LOCAL: GET KEY with curl and cmp it with LOCAL
same_in_bucket() {
  local code
  rm -f "$T_TMP/body"
  code=$(s3_status GET "$2")
  if [ "$code" != 200 ]; then
    t_fail "$1" "GET $2: HTTP $code"
  elif cmp -s "$3" "$T_TMP/body"; then
    t_ok "$1"
  else
    t_fail "$1" "bucket bytes differ: $(cmp "$3" "$T_TMP/body" 2>&1 | head -n 1)"
  fi
}
