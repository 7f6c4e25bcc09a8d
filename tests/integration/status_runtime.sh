#!/usr/bin/env bash
# status_runtime.sh - (issue 14) `bucketfs status MOUNTPOINT` finds a mount
# whatever cache_dir it was given, through the record the mount writes in the
# runtime directory: two mounts with two non-default cache dirs, a relative
# mountpoint, the mount's state (running, pid) in plain and JSON output, after
# unmount too; without the record it says to give --cache-dir, which still
# works; and the demo no longer tells anyone to give --cache-dir.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
BIN=${BUCKETFS_BIN:-$BUCKETFS_ROOT/build/bucketfs}
with_server rgw || t_abort "no rgw server"
t_cleanup_push t_empty_bucket
. "$BUCKETFS_ROOT/tests/lib/mount.sh"

A=$T_TMP/a
B=$T_TMP/b
m_mount "$A" -o "cache_dir=$T_TMP/cache-a" || t_abort "mount a"
M_SPEC="$S3_BUCKET:/sub" m_mount "$B" -o "cache_dir=$T_TMP/elsewhere/cache-b" || t_abort "mount b"

# A file, seen pending or done by status.
echo "pending" >"$T_TMP/f"
cp "$T_TMP/f" "$A/f" || t_fail "write" "cp failed"
out=$("$BIN" status "$A" 2>&1)
t_check "status MNT: found without --cache-dir" "$?" 0
t_check "status MNT: the mount line" "$(head -n 1 <<<"$out")" \
  "mount: $A (running, pid $(cat "$T_TMP/pid.a"))"
"$BIN" status "$A" --wait --timeout 120 >/dev/null
t_check "status --wait without --cache-dir" "$?" 0
same_in_bucket "the file arrived" f "$T_TMP/f"

json=$("$BIN" status "$B" --json)
t_check "the other mount, its own state dir" "$(grep -o "\"state_dir\":\"$T_TMP/elsewhere/cache-b/[^\"]*\"" <<<"$json" | wc -l)" 1
t_check "JSON: running" "$(grep -o '"running":true' <<<"$json")" '"running":true'
t_check "relative path" "$(cd "$T_TMP" && "$BIN" status b --json | grep -o '"mountpoint":"[^"]*"')" \
  "\"mountpoint\":\"$B\""

m_umount "$B"
t_check "after unmount: not running" "$("$BIN" status "$B" | head -n 1)" "mount: $B (not running)"

# Without its record (e.g. after a reboot) a stopped mount needs --cache-dir.
rec=$(grep -lsx "mountpoint=$B" /run/bucketfs/mounts/* "${XDG_RUNTIME_DIR:-/nonexistent}"/bucketfs/mounts/* | head -n 1)
t_check "the record is in the runtime dir" "$([ -n "$rec" ] && echo yes)" yes
[ -n "$rec" ] && rm -f "$rec"
err=$("$BIN" status "$B" 2>&1)
t_check "no record: exit 1" "$?" 1
[[ $err == *"give the cache_dir it used: --cache-dir DIR"* ]] && t_ok "no record: says --cache-dir" ||
  t_fail "no record: says --cache-dir" "$err"
t_check "--cache-dir still works" "$("$BIN" status "$B" --cache-dir "$T_TMP/elsewhere/cache-b")" "nothing pending"

t_check "the demo does not tell to give --cache-dir" "$(grep -c -- '--cache-dir' "$BUCKETFS_ROOT/scripts/demo.sh")" 0
m_umount "$A"
t_summary
