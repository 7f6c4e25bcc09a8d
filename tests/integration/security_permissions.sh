#!/usr/bin/env bash
# security_permissions.sh - allow_other lets other users in only as far as the
# modes allow, over Ceph RGW. A root mount with allow_other (and nothing
# else, as the shipped fstab line has it) is used by user nobody:
#   - a 0600 file of root's cannot be read, written, truncated, renamed,
#     deleted or chmod'ed by nobody, and nobody cannot create files in root's
#     0755 directory; the bucket (read with curl) shows nothing changed;
#   - a 0644 file can be read by nobody, byte for byte;
#   - the mode survives a remount (stored as s3fs metadata);
#   - no_default_permissions opts out: the mount warns, once, on stderr and in
#     the log file, and then nobody can read the 0600 file (what the option
#     says it does).
# Before default_permissions came with allow_other, nobody read and replaced
# the 0600 file. Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
[ "$(id -u)" = 0 ] || t_abort "needs root (mounts with allow_other and acts as nobody)"
command -v setpriv >/dev/null || t_abort "setpriv missing (util-linux)"
with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# denied NAME CMD...: CMD run as nobody fails with EACCES or EPERM
denied() {
  local name=$1 out rc
  shift
  out=$(as_nobody "$@" 2>&1)
  rc=$?
  if [ "$rc" != 0 ] && grep -qE 'Permission denied|Operation not permitted' <<<"$out"; then
    t_ok "nobody: $name is refused"
  else
    t_fail "nobody: $name is refused" "rc=$rc ${out:0:200}"
  fi
}

# nobody must reach the mountpoint, and nothing else of ours
chmod 711 "$T_TMP"
MNT=$T_TMP/mnt
mkdir -p "$MNT"
chmod 755 "$MNT"
SECRET_TEXT="root's secret $RANDOM$RANDOM"
head -c 200000 /dev/urandom >"$T_TMP/public"

# --- allow_other alone: the kernel checks the modes --------------------------------
m_mount "$MNT" -o allow_other || t_abort "mount with allow_other failed"
printf '%s\n' "$SECRET_TEXT" >"$MNT/secret.txt"
chmod 600 "$MNT/secret.txt"
cp "$T_TMP/public" "$MNT/public.bin"
chmod 644 "$MNT/public.bin"
t_check "root: secret.txt is 0600" "$(stat -c %a "$MNT/secret.txt")" 600
wait_idle 120 || t_fail "uploads" "not done in 120 s"

denied "read a 0600 file" cat "$MNT/secret.txt"
denied "append to a 0600 file" sh -c "echo stolen >>'$MNT/secret.txt'"
denied "truncate a 0600 file" truncate -s 0 "$MNT/secret.txt"
denied "rename a 0600 file" mv "$MNT/secret.txt" "$MNT/stolen.txt"
denied "delete a 0600 file" rm -f "$MNT/secret.txt"
denied "chmod a 0600 file" chmod 666 "$MNT/secret.txt"
denied "create a file in root's directory" touch "$MNT/by-nobody"
if as_nobody cmp -s "$MNT/public.bin" "$T_TMP/public"; then t_ok "nobody: reads a 0644 file"; else
  t_fail "nobody: reads a 0644 file" "$(as_nobody cat "$MNT/public.bin" 2>&1 >/dev/null | head -c 200)"
fi
t_check "root still reads secret.txt" "$(cat "$MNT/secret.txt")" "$SECRET_TEXT"
wait_idle 60
# the bucket, through curl: nothing nobody tried happened
t_check "bucket: secret.txt unchanged" "$(s3curl GET secret.txt)" "$SECRET_TEXT"
t_check "bucket: no stolen.txt" "$(s3_status HEAD stolen.txt)" 404
t_check "bucket: no by-nobody" "$(s3_status HEAD by-nobody)" 404
s3_status HEAD secret.txt >/dev/null
t_check "bucket: secret.txt stored with mode 0600" "$(printf '%o' "$(s3_header x-amz-meta-mode)")" 100600
m_umount "$MNT"

# the mode comes back from the bucket at the next mount
m_mount "$MNT" -o allow_other || t_abort "remount failed"
t_check "remount: secret.txt is 0600" "$(stat -c %a "$MNT/secret.txt")" 600
denied "read a 0600 file after a remount" cat "$MNT/secret.txt"
m_umount "$MNT"

# --- the explicit opt-out, loudly --------------------------------------------------
: >"$M_LOG"
m_mount "$MNT" -o "allow_other,no_default_permissions,log_file=$T_TMP/optout.log" || t_abort "opt-out mount failed"
t_check "opt-out: one warning on stderr" "$(grep -c 'warning: allow_other with no_default_permissions' "$M_LOG")" 1
t_check "opt-out: one warning in the log file" "$(grep -c 'allow_other with no_default_permissions' "$T_TMP/optout.log")" 1
if [ "$(as_nobody cat "$MNT/secret.txt" 2>/dev/null)" = "$SECRET_TEXT" ]; then
  t_ok "opt-out: nobody reads the 0600 file, as the option says"
else
  t_fail "opt-out: no permission checks" "nobody could not read secret.txt"
fi
m_umount "$MNT"
chmod 700 "$T_TMP"
t_summary
