#!/usr/bin/env bash
# write_stream.sh - upload while writing (issue 13), over RGW, checked in the
# bucket with curl --aws-sigv4 and the server's access log (never through the
# mount). part_size=5 MiB; a writer process keeps its file open until told:
#  - a file that grows by appends has each finished part sent while it is
#    still open, no object before the close, then the same bytes in the bucket
#    with no part sent twice and no multipart upload left;
#  - a part written again while the file is open (dd conv=notrunc from another
#    process) is sent again: the bucket has the bytes closed, not those sent;
#  - a truncate below the parts sent: that multipart upload is aborted (RGW
#    completes no subset of the parts it has) and the file goes anew;
#  - kill -9 of the daemon while parts of an open file are on the server:
#    `bucketfs uploads` calls that multipart upload an orphan and
#    --abort-orphans aborts it, or else the next mount aborts it; the key never
#    appears;
#  - upload_while_writing=0 sends nothing before the close.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
command -v perl >/dev/null || t_abort "perl missing"
with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
MIB=$((1024 * 1024))
B=$(s3_encode "$S3_BUCKET")
MOPTS="part_size=5,upload_concurrency=4"

part_puts() { t_log_count "$1" "\"PUT /$B/$2\\?partNumber="; }
open_uploads() {
  S3_QUERY=$(s3_query uploads "prefix=$1") s3curl GET "" | grep -o '<Key>[^<]*</Key>' | grep -cxF "<Key>$1</Key>"
}
same_in_bucket() {
  if s3curl GET "$2" >"$T_TMP/got" && cmp -s "$T_TMP/got" "$3"; then t_ok "$1"; else
    t_fail "$1" "bucket has $(wc -c <"$T_TMP/got") B, want $(wc -c <"$3") B (or different bytes)"
  fi
}
# wait_until SEC CMD...: until CMD succeeds (status 1 after SEC seconds)
wait_until() {
  local i n=$(($1 * 10))
  shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# (a command whose output is waited for must run inside the loop: an argument
# "$(...)" of wait_until is read once, before it starts)
none_open() { [ "$(open_uploads "$1")" = 0 ]; }
parts_at_least() { [ "$(S3_LOG_SETTLE=0 part_puts "$1" "$2")" -ge "$3" ]; }

# writer NAME SRC: one process writes SRC into the mount as NAME and keeps
# the file open until $T_TMP/NAME.go exists (then closes it: $T_TMP/NAME.closed)
writer() {
  rm -f "$T_TMP/$1".{written,go,closed}
  perl -e 'open(my $in, "<", $ARGV[1]) or die; open(my $out, ">", $ARGV[0]) or die "open: $!";
    binmode $in; binmode $out; my $b;
    while (my $n = sysread($in, $b, 1 << 20)) { defined(syswrite($out, $b)) or die; }
    open(my $m, ">", "$ARGV[2].written"); close $m;
    for (1..1200) { last if -e "$ARGV[2].go"; select(undef, undef, undef, 0.1); }
    close($out) or die "close: $!";
    open($m, ">", "$ARGV[2].closed"); close $m;' "$MNT/$1" "$2" "$T_TMP/$1" &
  WRITER_PID=$!
  t_cleanup_push t_quietly kill -KILL "$WRITER_PID"
  wait_until 60 test -e "$T_TMP/$1.written" || t_fail "$1: writer wrote its bytes" "not within 60 s"
}
release_writer() {
  touch "$T_TMP/$1.go"
  wait_until 60 test -e "$T_TMP/$1.closed" && t_ok "$1: close returned 0" || t_fail "$1: close returned 0" "no"
}

m_mount "$MNT" -o "$MOPTS" || t_abort "mount failed"
mkdir -p "$T_TMP/src"

# --- appends: the finished parts go while the file is open ---
head -c $((30 * MIB)) /dev/urandom >"$T_TMP/src/a"
mark=$(t_log_mark)
writer a "$T_TMP/src/a"
# 30 MiB = 6 parts of 5 MiB; part 6 is not known to be full until the close
if wait_until 60 parts_at_least "$mark" a 5; then t_ok "appends: 5 parts sent while the file is open"; else
  t_fail "appends: 5 parts sent while the file is open" "$(part_puts "$mark" a) part PUTs"
fi
t_check "appends: no object before the close" "$(s3_status HEAD a)" 404
t_check "appends: one multipart upload open meanwhile" "$(open_uploads a)" 1
release_writer a
wait_idle && t_ok "appends: status --wait" || t_fail "appends: status --wait" "$(status_json)"
same_in_bucket "appends: bucket bytes" a "$T_TMP/src/a"
t_check "appends: each part sent once" "$(part_puts "$mark" a)" 6
t_check "appends: one multipart upload" "$(t_log_count "$mark" "\"POST /$B/a\\?uploads")" 1
t_check "appends: no multipart upload left" "$(open_uploads a)" 0
s3_status HEAD a >/dev/null
t_check "appends: mode sent with the upload" "$(s3_header x-amz-meta-mode)" $((8#100644))

# --- a part written again while open is sent again ---
head -c $((20 * MIB)) /dev/urandom >"$T_TMP/src/b"
head -c "$MIB" /dev/urandom >"$T_TMP/src/patch"
cp "$T_TMP/src/b" "$T_TMP/want.b"
dd if="$T_TMP/src/patch" of="$T_TMP/want.b" bs=1M seek=7 conv=notrunc status=none
mark=$(t_log_mark)
writer b "$T_TMP/src/b"
wait_until 60 parts_at_least "$mark" b 3 || t_fail "rewrite: 3 parts sent while open" "$(part_puts "$mark" b)"
dd if="$T_TMP/src/patch" of="$MNT/b" bs=1M seek=7 conv=notrunc status=none &&
  t_ok "rewrite: dd into part 2 while open" || t_fail "rewrite: dd into part 2 while open" "dd failed"
release_writer b
wait_idle && t_ok "rewrite: status --wait" || t_fail "rewrite: status --wait" "$(status_json)"
same_in_bucket "rewrite: the bytes closed, not those sent" b "$T_TMP/want.b"
# parts 1-3 while open, then part 2 again and part 4
t_check "rewrite: only the changed part sent again" "$(part_puts "$mark" b)" 5
t_check "rewrite: no multipart upload left" "$(open_uploads b)" 0

# --- a truncate below the parts sent ---
head -c $((20 * MIB)) /dev/urandom >"$T_TMP/src/c"
head -c $((7 * MIB)) "$T_TMP/src/c" >"$T_TMP/want.c"
mark=$(t_log_mark)
writer c "$T_TMP/src/c"
wait_until 60 parts_at_least "$mark" c 3 || t_fail "truncate: 3 parts sent while open" "$(part_puts "$mark" c)"
truncate -s $((7 * MIB)) "$MNT/c" && t_ok "truncate: to 7 MiB while open" || t_fail "truncate: to 7 MiB while open" "failed"
release_writer c
wait_idle && t_ok "truncate: status --wait" || t_fail "truncate: status --wait" "$(status_json; grep -E "[ /]c[ :)]" "$M_LOG" | tail -n 20)"
same_in_bucket "truncate: bucket bytes" c "$T_TMP/want.c"
# RGW completes no subset of the parts it has: parts 1-3 while open, then a
# new multipart upload of the 2 parts closed
t_check "truncate: the stream is not adopted (3 + 2 PUTs)" "$(part_puts "$mark" c)" 5
t_check "truncate: a second multipart upload" "$(t_log_count "$mark" "\"POST /$B/c\\?uploads")" 2
t_check "truncate: no multipart upload left" "$(open_uploads c)" 0

# --- kill -9 while parts of an open file are on the server ---
# kill_while_open NAME: writes 20 MiB into NAME, kills the daemon (and the
# writer) once 3 parts are on the server, and unmounts
kill_while_open() {
  head -c $((20 * MIB)) /dev/urandom >"$T_TMP/src/$1"
  mark=$(t_log_mark)
  writer "$1" "$T_TMP/src/$1"
  wait_until 60 parts_at_least "$mark" "$1" 3 || t_fail "kill $1: 3 parts sent while open" "$(part_puts "$mark" "$1")"
  t_check "kill $1: its multipart upload is open" "$(open_uploads "$1")" 1
  kill -KILL "$(cat "$T_TMP/pid.$(basename "$MNT")")"
  kill -KILL "$WRITER_PID" 2>/dev/null
  wait "$WRITER_PID" 2>/dev/null
  m_umount "$MNT"
}
kill_while_open k1
"$BIN" uploads "$S3_BUCKET" -o "$(m_opts)" >"$T_TMP/uploads.out" 2>&1
grep -q "^orphan .* k1 " "$T_TMP/uploads.out" && t_ok "kill k1: uploads lists it as an orphan" ||
  t_fail "kill k1: uploads lists it as an orphan" "$(cat "$T_TMP/uploads.out")"
"$BIN" uploads "$S3_BUCKET" -o "$(m_opts)" --abort-orphans >"$T_TMP/uploads.out" 2>&1
t_check "kill k1: uploads --abort-orphans aborts it" "$(open_uploads k1)" 0
m_mount "$MNT" -o "$MOPTS" || t_abort "remount failed"
kill_while_open k2
m_mount "$MNT" -o "$MOPTS" || t_abort "remount failed"
wait_idle && t_ok "kill k2: status --wait after the remount" || t_fail "kill k2: status --wait" "$(status_json)"
wait_until 30 none_open k2 && t_ok "kill k2: the next mount aborts it" ||
  t_fail "kill k2: the next mount aborts it" "$(open_uploads k2) left"
t_check "kill: the never-closed files are not in the bucket" "$(s3_status HEAD k1)/$(s3_status HEAD k2)" 404/404
m_umount "$MNT"

# --- upload_while_writing=0: nothing before the close ---
m_mount "$MNT" -o "$MOPTS,upload_while_writing=0" || t_abort "mount failed"
head -c $((12 * MIB)) /dev/urandom >"$T_TMP/src/off"
mark=$(t_log_mark)
writer off "$T_TMP/src/off"
sleep 2
t_check "off: no part sent while open" "$(part_puts "$mark" off)" 0
release_writer off
wait_idle && t_ok "off: status --wait" || t_fail "off: status --wait" "$(status_json)"
same_in_bucket "off: bucket bytes" off "$T_TMP/src/off"
t_check "off: 3 part PUTs after the close" "$(part_puts "$mark" off)" 3
m_umount "$MNT"

t_summary
