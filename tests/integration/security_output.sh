#!/usr/bin/env bash
# security_output.sh - what a mount tells the user about its own security, and
# what a key name can do to the log and the terminal, over Ceph RGW:
#   - an http:// endpoint and no_verify_ssl are each warned about once at
#     mount: on stderr and in the log (a foreground mount without log_file has
#     one stream: once there; a daemonized mount: once on the terminal);
#   - an https:// mount without those options warns about nothing (it fails
#     on the plain-http server, the warning would come first);
#   - a file whose name holds an escape sequence and a newline, written through
#     the mount: the log file gets no escape byte and no extra line (the name
#     is escaped, \x1b and \x0a), and the object reaches the bucket unchanged;
#   - `bucketfs uploads` shows such a key (a multipart upload started with
#     curl) escaped, not raw, on the terminal.
# Before: no warning at all; the raw bytes in both. Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
HTTP_WARN='endpoint http://[^ ]* is plain http'
TLS_WARN='no_verify_ssl: the endpoint.s TLS certificate is not checked'
count() { grep -cE -- "$1" "$2"; }

# --- warnings ----------------------------------------------------------------------
: >"$M_LOG"
m_mount "$MNT" -o no_verify_ssl || t_abort "mount failed"
m_umount "$MNT"
t_check "foreground, no log_file: http warning once" "$(count "$HTTP_WARN" "$M_LOG")" 1
t_check "foreground, no log_file: no_verify_ssl warning once" "$(count "$TLS_WARN" "$M_LOG")" 1

: >"$M_LOG"
m_mount "$MNT" -o "no_verify_ssl,log_file=$T_TMP/mount.log" || t_abort "mount with log_file failed"
m_umount "$MNT"
t_check "log_file: http warning once on stderr" "$(count "$HTTP_WARN" "$M_LOG")" 1
t_check "log_file: no_verify_ssl warning once on stderr" "$(count "$TLS_WARN" "$M_LOG")" 1
t_check "log_file: http warning once in the log" "$(count "$HTTP_WARN" "$T_TMP/mount.log")" 1
t_check "log_file: no_verify_ssl warning once in the log" "$(count "$TLS_WARN" "$T_TMP/mount.log")" 1
if grep -qE "warn: $HTTP_WARN" "$T_TMP/mount.log"; then t_ok "log_file: at level warn"; else
  t_fail "log_file: level" "$(grep -E "$HTTP_WARN" "$T_TMP/mount.log")"
fi

# daemonized: the terminal sees it before the fork (the log is syslog then)
mkdir -p "$MNT"
# (a cache dir of its own: the daemon may still be exiting when the next mount comes)
timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),cache_dir=$T_TMP/dcache" >"$T_TMP/d.out" 2>"$T_TMP/d.err"
t_check "daemon: exit" "$?" 0
if m_is_mounted "$MNT"; then
  t_ok "daemon: mounted"
  fusermount3 -u "$MNT"
else t_fail "daemon: mounted" "$(cat "$T_TMP/d.err")"; fi
t_check "daemon: http warning once on the terminal" "$(count "$HTTP_WARN" "$T_TMP/d.err")" 1
t_check "daemon: nothing else on the terminal" "$(wc -l <"$T_TMP/d.err")" 1

# https: no warning before the failure (the server speaks plain http)
timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -f -o "$(m_opts | sed 's|url=http://|url=https://|')" \
  >"$T_TMP/s.out" 2>"$T_TMP/s.err"
t_check "https to a plain server: exit" "$?" 1
t_check "https: no http warning" "$(count 'plain http|no_verify_ssl' "$T_TMP/s.err")" 0

# --- a key with an escape sequence and a newline ------------------------------------
EVIL=$'evil\e[31mred\nbucketfs[1] error: forged'
: >"$T_TMP/evil.log"
m_mount "$MNT" -o "log_file=$T_TMP/evil.log" || t_abort "mount failed"
printf 'evil content\n' >"$MNT/$EVIL" || t_fail "write a file with an escape in its name"
wait_idle 60 || t_fail "upload of the evil name" "not done in 60 s"
m_umount "$MNT"
t_check "bucket: the object has the name as given" "$(s3curl GET "$EVIL")" "evil content"
if grep -q $'\e' "$T_TMP/evil.log"; then t_fail "log: no escape byte" "found one"; else t_ok "log: no escape byte"; fi
t_check "log: no forged line" "$(grep -c '^bucketfs\[1\] error: forged' "$T_TMP/evil.log")" 0
if grep -qF 'evil\x1b[31mred\x0abucketfs[1] error: forged' "$T_TMP/evil.log"; then t_ok "log: the name shown escaped"; else
  t_fail "log: escaped name" "$(grep -i evil "$T_TMP/evil.log" | head -n 2 | cat -v)"
fi
bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ bucketfs\[[0-9]+\] [a-z]+: ' "$T_TMP/evil.log")
t_check "log: every line is a log line" "$bad" 0
s3curl DELETE "$EVIL" -o /dev/null

# uploads on the terminal
S3_QUERY=$(s3_query uploads) s3_status POST "$EVIL" >/dev/null
id=$(grep -o '<UploadId>[^<]*' "$T_TMP/body" | sed 's/<UploadId>//')
[ -n "$id" ] || t_fail "curl: start an upload with the evil key" "$(cat "$T_TMP/body")"
"$BIN" uploads "$S3_BUCKET" -o "$(m_opts)" >"$T_TMP/up.out" 2>&1
t_check "uploads: exit" "$?" 0
if grep -q $'\e' "$T_TMP/up.out"; then t_fail "uploads: no escape byte on the terminal" "found one"; else
  t_ok "uploads: no escape byte on the terminal"
fi
if grep -qF 'evil\x1b[31mred\x0abucketfs[1] error: forged' "$T_TMP/up.out"; then t_ok "uploads: the key shown escaped"; else
  t_fail "uploads: escaped key" "$(cat -v "$T_TMP/up.out")"
fi
S3_QUERY=$(s3_query "uploadId=$id") s3curl DELETE "$EVIL" -o /dev/null
t_summary
