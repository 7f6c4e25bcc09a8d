#!/usr/bin/env bash
# fault_input.sh - bad input, over Ceph RGW. Each of a wrong secret, an unknown
# access key, an unknown bucket, an endpoint nobody listens on, a passwd file
# readable by others and options with bad values (-o part_size=abc, -o
# umask=999, ...) ends with one clear line on stderr, a non-zero exit (not a
# signal), and no mount left. Through a mount: a key longer than 1024 bytes
# (a deep path) and names with control characters (\n, \t, \x01) either work
# (checked byte for byte in the bucket through s3curl) or fail with a clear
# errno (ENAMETOOLONG / EINVAL); the daemon survives and nothing else is lost.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing"
with_server rgw || t_abort "cannot start rgw"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
mkdir -p "$MNT"

# bad_mount NAME GREP_WANT ARGS...: bucketfs BUCKET MNT ARGS (daemon mode) must
# fail within 30 s with status 1 or 2, one stderr line matching GREP_WANT, no mount
bad_mount() {
  local name=$1 want=$2 t0 rc
  shift 2
  t0=$(date +%s)
  timeout 60 "$BIN" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
  rc=$?
  if [ "$rc" = 1 ] || [ "$rc" = 2 ]; then t_ok "$name: exit $rc"; else t_fail "$name: exit status" "$rc (want 1 or 2)"; fi
  [ $(($(date +%s) - t0)) -lt 30 ] || t_fail "$name: fails fast" "$(($(date +%s) - t0)) s"
  t_check "$name: one line on stderr" "$(wc -l <"$T_TMP/err")" 1
  if grep -qE -- "$want" "$T_TMP/err"; then t_ok "$name: clear message"; else
    t_fail "$name: message" "$(head -c 300 "$T_TMP/err")"
  fi
  echo "  stderr: $(head -c 300 "$T_TMP/err")"
  if m_is_mounted "$MNT"; then
    t_fail "$name: no mount left" "mounted"
    fusermount3 -u "$MNT"
  else
    t_ok "$name: no mount left"
  fi
  if pgrep -f "^$BIN .* $MNT( |$)" >/dev/null; then
    t_fail "$name: no daemon left" "$(pgrep -af "^$BIN .* $MNT( |$)")"
  fi
}

printf '%s:%s\n' "$S3_ACCESS_KEY" "wrong-$S3_SECRET_KEY" >"$T_TMP/badpw"
chmod 600 "$T_TMP/badpw"
bad_mount "wrong secret" "SignatureDoesNotMatch|secret key is wrong" \
  "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/badpw"
if grep -qF -- "$S3_SECRET_KEY" "$T_TMP/err"; then t_fail "wrong secret: secret not printed"; else
  t_ok "wrong secret: secret not printed"
fi
printf 'nobody-%s:%s\n' "$$" "$S3_SECRET_KEY" >"$T_TMP/badak"
chmod 600 "$T_TMP/badak"
bad_mount "unknown access key" "InvalidAccessKeyId|access key" \
  "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/badak"
bad_mount "unknown bucket" "NoSuchBucket|does not exist" "no-such-bucket-$$" "$MNT" -o "$(m_opts)"
dead=$(free_port) || t_abort "no free port"
bad_mount "unreachable endpoint" "does not answer|connect" \
  "$S3_BUCKET" "$MNT" -o "$(m_opts),url=http://127.0.0.1:$dead,connect_timeout=2"
cp "$T_TMP/passwd" "$T_TMP/openpw"
chmod 644 "$T_TMP/openpw"
bad_mount "passwd file readable by others" "chmod 600|readable" \
  "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/openpw"
chmod 640 "$T_TMP/openpw"
bad_mount "passwd file readable by group" "chmod 600|readable" \
  "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/openpw"
bad_mount "missing passwd file" "$T_TMP/nopw" "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/nopw"
bad_mount "part_size=abc" "bad value 'abc' for option 'part_size'" "$S3_BUCKET" "$MNT" -o "$(m_opts),part_size=abc"
bad_mount "part_size=-1" "bad value '-1' for option 'part_size'" "$S3_BUCKET" "$MNT" -o "$(m_opts),part_size=-1"
bad_mount "umask=999" "bad value '999' for option 'umask'" "$S3_BUCKET" "$MNT" -o "$(m_opts),umask=999"
bad_mount "upload_concurrency=0" "upload_concurrency" "$S3_BUCKET" "$MNT" -o "$(m_opts),upload_concurrency=0"
bad_mount "loglevel=loud" "bad value 'loud' for option 'loglevel'" "$S3_BUCKET" "$MNT" -o "$(m_opts),loglevel=loud"
bad_mount "sigv=3" "bad value '3' for option 'sigv'" "$S3_BUCKET" "$MNT" -o "$(m_opts),sigv=3"
bad_mount "endpoint=ftp://x" "endpoint|url|scheme" "$S3_BUCKET" "$MNT" -o "$(m_opts),url=ftp://127.0.0.1:$dead"

# --- through a mount: long keys and control characters -----------------------------
m_mount "$MNT" || t_abort "mount failed"
head -c 70000 /dev/urandom >"$T_TMP/data"

# bucket_same KEY FILE: the object KEY equals FILE byte for byte (through s3curl)
bucket_same() {
  rm -f "$T_TMP/got"
  s3curl GET "$1" -o "$T_TMP/got" -f 2>/dev/null && cmp -s "$T_TMP/got" "$2"
}

# a deep path whose key is longer than 1024 bytes; each component is 200 bytes
comp=$(printf 'd%.0s' $(seq 1 200))
deep=$MNT
rel=''
err=''
for i in 1 2 3 4 5 6; do
  deep=$deep/$comp$i
  rel=$rel$comp$i/
  if ! mkdir "$deep" 2>"$T_TMP/mkerr"; then
    err=$(cat "$T_TMP/mkerr")
    break
  fi
done
if [ -z "$err" ]; then
  if cp "$T_TMP/data" "$deep/f.bin" 2>"$T_TMP/cperr"; then
    "$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 60 >/dev/null
    if bucket_same "${rel}f.bin" "$T_TMP/data"; then t_ok "key of ${#rel} bytes: stored byte-identical"; else
      t_fail "key of ${#rel} bytes" "accepted by the mount but not in the bucket"
    fi
  else
    err=$(cat "$T_TMP/cperr")
  fi
fi
if [ -n "$err" ]; then
  if grep -q 'File name too long' <<<"$err"; then t_ok "key longer than 1024 bytes: ENAMETOOLONG (at ${#rel} bytes)"; else
    t_fail "key longer than 1024 bytes: errno" "$err"
  fi
fi
t_check "a path component of 256 bytes: ENAMETOOLONG" \
  "$(touch "$MNT/$(printf 'x%.0s' $(seq 1 256))" 2>&1 | grep -c 'File name too long')" 1
m_is_mounted "$MNT" && t_ok "mount alive after long names" || t_abort "mount died after long names"

# names with control characters
i=0
for name in $'nl\nname' $'tab\tname' $'ctl\x01name' $'del\x7fname'; do
  i=$((i + 1))
  shown=$(printf '%q' "$name")
  head -c $((i * 1000 + 7)) "$T_TMP/data" >"$T_TMP/c$i"
  if cp "$T_TMP/c$i" "$MNT/$name" 2>"$T_TMP/cerr"; then
    if cmp -s "$T_TMP/c$i" "$MNT/$name"; then t_ok "$shown: reads back"; else t_fail "$shown: reads back" "differs"; fi
    "$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 60 >/dev/null
    if bucket_same "$name" "$T_TMP/c$i"; then t_ok "$shown: in the bucket byte-identical"; else
      t_fail "$shown: in the bucket" "missing or different"
    fi
    names=$(find "$MNT" -maxdepth 1 -name "${name:0:3}*" -printf '%f\0' | tr '\0' '/')
    t_check "$shown: listed once under its own name" "$names" "$name/"
  else
    if grep -qE 'Invalid argument|not permitted|Invalid or incomplete' "$T_TMP/cerr"; then
      t_ok "$shown: refused with a clear errno ($(cat "$T_TMP/cerr"))"
    else
      t_fail "$shown: cp" "$(cat "$T_TMP/cerr")"
    fi
  fi
done
m_is_mounted "$MNT" && t_ok "mount alive after control characters" || t_abort "mount died"

# nothing lost: a plain file written after all that still arrives
cp "$T_TMP/data" "$MNT/plain.bin"
"$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 60 >/dev/null
if bucket_same plain.bin "$T_TMP/data"; then t_ok "plain file after bad names: in the bucket"; else
  t_fail "plain file after bad names" "missing or different"
fi
t_check "status: nothing failed" "$("$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --json | grep -o '"failed":\[\]')" '"failed":[]'
m_umount "$MNT"
if m_is_mounted "$MNT"; then t_fail "unmounted"; else t_ok "unmounted cleanly"; fi
# a fresh mount lists the control-character names from the server's listing
m_mount "$MNT" || t_abort "remount failed"
i=0
for name in $'nl\nname' $'tab\tname' $'ctl\x01name' $'del\x7fname'; do
  i=$((i + 1))
  [ -e "$T_TMP/c$i" ] || continue
  if cmp -s "$T_TMP/c$i" "$MNT/$name"; then t_ok "$(printf '%q' "$name"): reads back after remount"; else
    t_fail "$(printf '%q' "$name"): after remount" "differs or missing"
  fi
  t_check "$(printf '%q' "$name"): listed after remount" \
    "$(find "$MNT" -maxdepth 1 -name "${name:0:3}*" -printf '%f\0' | tr '\0' '/')" "$name/"
done
m_umount "$MNT"
if grep -qE 'terminate called|Segmentation|Aborted|AddressSanitizer' "$M_LOG"; then
  t_fail "no crash in the daemon log" "$(grep -E 'terminate|Segmentation|Aborted' "$M_LOG" | head -3)"
else
  t_ok "no crash in the daemon log"
fi
t_summary
