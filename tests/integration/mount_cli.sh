#!/usr/bin/env bash
# mount_cli.sh - the command line and the checks before mounting, over Ceph
# RGW: a wrong secret, a missing bucket, an endpoint nobody listens on, a
# missing mountpoint, a passwd file readable by others and bad options each
# exit non-zero within seconds with one clear line and leave no mount behind;
# a daemonized mount appears, serves, and goes away with fusermount3 -u.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
with_server rgw || t_abort "cannot start rgw"

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
mkdir -p "$MNT"

# expect_failure NAME RC_WANT GREP_WANT CMD...: runs CMD (bucketfs, daemon mode)
# and checks exit status, time (< 30 s), one stderr line matching GREP_WANT,
# and that nothing is mounted afterwards.
expect_failure() {
  local name=$1 want_rc=$2 want=$3 t0 t1 rc
  shift 3
  t0=$(date +%s)
  timeout 60 "$@" >"$T_TMP/out" 2>"$T_TMP/err"
  rc=$?
  t1=$(date +%s)
  t_check "$name: exit status" "$rc" "$want_rc"
  if [ $((t1 - t0)) -lt 30 ]; then t_ok "$name: fails fast ($((t1 - t0)) s)"; else t_fail "$name: took $((t1 - t0)) s"; fi
  t_check "$name: one line on stderr" "$(wc -l <"$T_TMP/err")" 1
  if grep -qE -- "$want" "$T_TMP/err"; then t_ok "$name: says why"; else t_fail "$name: message" "$(cat "$T_TMP/err")"; fi
  echo "  stderr: $(cat "$T_TMP/err")"
  if m_is_mounted "$MNT"; then
    t_fail "$name: no mount left" "$MNT is mounted"
    fusermount3 -u "$MNT"
  else
    t_ok "$name: no mount left"
  fi
}

printf '%s:%s\n' "$S3_ACCESS_KEY" "wrong-$S3_SECRET_KEY" >"$T_TMP/badpw"
chmod 600 "$T_TMP/badpw"
expect_failure "wrong secret" 1 \
  "^bucketfs: cannot mount bucket '$S3_BUCKET' at $S3_ENDPOINT: SignatureDoesNotMatch \(403\): the secret key is wrong" \
  "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/badpw"
if grep -q "wrong-$S3_SECRET_KEY" "$T_TMP/err"; then t_fail "wrong secret: secret not printed"; else t_ok "wrong secret: secret not printed"; fi

printf 'nobody-knows-me:%s\n' "$S3_SECRET_KEY" >"$T_TMP/badak"
chmod 600 "$T_TMP/badak"
expect_failure "unknown access key" 1 "InvalidAccessKeyId \(403\): .*access key" \
  "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/badak"

expect_failure "missing bucket" 1 \
  "^bucketfs: cannot mount bucket 'no-such-bucket-$$' at $S3_ENDPOINT: NoSuchBucket \(404\): the bucket does not exist; check the name and the endpoint" \
  "$BIN" "no-such-bucket-$$" "$MNT" -o "$(m_opts)"

dead=$(free_port) || t_abort "no free port"
expect_failure "endpoint nobody listens on" 1 \
  "^bucketfs: cannot mount bucket '$S3_BUCKET' at http://127.0.0.1:$dead: the endpoint does not answer \(.*\); check the endpoint URL and that the server is running" \
  "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),url=http://127.0.0.1:$dead"

expect_failure "missing mountpoint" 1 "mountpoint '$T_TMP/nodir' does not exist" \
  "$BIN" "$S3_BUCKET" "$T_TMP/nodir" -o "$(m_opts)"
touch "$T_TMP/afile"
expect_failure "mountpoint is a file" 1 "is not a directory" "$BIN" "$S3_BUCKET" "$T_TMP/afile" -o "$(m_opts)"

cp "$T_TMP/passwd" "$T_TMP/openpw"
chmod 644 "$T_TMP/openpw"
expect_failure "passwd file readable by others" 1 "chmod 600" \
  "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),passwd_file=$T_TMP/openpw"

expect_failure "unknown option" 2 "^bucketfs: unknown option 'frobnicate' \(see bucketfs --help\)$" \
  "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),frobnicate"
expect_failure "bad number" 2 "bad value 'abc' for option 'uid'" "$BIN" "$S3_BUCKET" "$MNT" -o uid=abc
expect_failure "bad umask" 2 "bad value '999' for option '--umask': not an octal number" "$BIN" "$S3_BUCKET" "$MNT" --umask 999
expect_failure "bad enum" 2 "bad value 'gcs' for option '--provider': expected one of s3, oss" "$BIN" "$S3_BUCKET" "$MNT" --provider=gcs
expect_failure "unknown subcommand-like word" 2 "missing MOUNTPOINT" "$BIN" frobnicate
expect_failure "status without any state" 1 "no bucketfs state under $T_TMP/nocache" "$BIN" status --cache-dir "$T_TMP/nocache"
expect_failure "status: unknown option" 2 "unknown option '--frob'" "$BIN" status --frob

"$BIN" --help >"$T_TMP/help" 2>&1
t_check "--help exits 0" "$?" 0
for o in endpoint region provider sigv path-style virtual-host passwd-file cache-dir uid gid umask allow-other \
  default-permissions ro stat-ttl dir-ttl log-file foreground debug; do
  grep -q -- "--$o" "$T_TMP/help" || t_fail "--help lists --$o"
done
t_ok "--help lists the options"
t_check "--version" "$("$BIN" --version | grep -c '^bucketfs [0-9]')" 1

# --- daemon mode: fstab-style options, the mount appears, the parent returns ---
printf 'hello\n' >"$T_TMP/h.txt"
t_check "put hello" "$(s3_status PUT hello.txt -T "$T_TMP/h.txt")" 200
t0=$(date +%s)
timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -o "$(m_opts),_netdev,nofail,x-systemd.automount,defaults,rw,nosuid,nodev" \
  --log-file "$T_TMP/daemon.log" 2>"$T_TMP/err"
rc=$?
t_check "daemon mode: parent exits 0" "$rc" 0
# only the warning about the test server's plain http:// (security_output.sh)
t_check "daemon mode: quiet on stderr but the http:// warning" "$(grep -vc 'warning: endpoint http://.* is plain http' "$T_TMP/err")" 0
t_cleanup_push m_cleanup "$MNT" ""
if m_is_mounted "$MNT"; then t_ok "daemon mode: mounted"; else t_fail "daemon mode: mounted"; fi
t_check "daemon mode: read" "$(cat "$MNT/hello.txt" 2>&1)" hello
t_check "fsname in /proc/mounts" "$(awk -v m="$MNT" '$2 == m { print $1, $3 }' /proc/mounts)" \
  "$S3_BUCKET fuse.bucketfs"
dpid=$(pgrep -f "^$BIN $S3_BUCKET $MNT " | head -n 1)
fusermount3 -u "$MNT"
for _ in $(seq 1 50); do
  [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null || break
  sleep 0.2
done
if m_is_mounted "$MNT"; then t_fail "daemon mode: unmounted"; else t_ok "daemon mode: unmounted"; fi
if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then t_fail "daemon exits after unmount"; else t_ok "daemon exits after unmount"; fi
t_check "daemon log written" "$(grep -c "mounted bucket '$S3_BUCKET'" "$T_TMP/daemon.log" 2>/dev/null)" 1

# --- a prefix as the root ---
t_check "put under prefix" "$(s3_status PUT sub/dir/in.txt -T "$T_TMP/h.txt")" 200
M_SPEC="$S3_BUCKET:/sub" m_mount "$MNT" || t_abort "mount failed"
t_check "prefix mount: root" "$(ls "$MNT" | tr '\n' ' ')" "dir "
t_check "prefix mount: read" "$(cat "$MNT/dir/in.txt" 2>&1)" hello
m_umount "$MNT"
if m_is_mounted "$MNT"; then t_fail "prefix mount: unmounted"; else t_ok "prefix mount: unmounted"; fi
t_summary
