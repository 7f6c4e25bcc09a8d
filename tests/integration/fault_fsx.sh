#!/usr/bin/env bash
# fault_fsx.sh - tests/tools/fsx on a bucketfs mount over Ceph RGW: a few
# thousand random writes, truncates, reads, appends, reopens, fsyncs and
# unlinks of open files, every read compared with fsx's shadow, with --remount-cmd unmounting and remounting
# (unmount_grace=0, so uploads are often still pending across the remount and
# must resume) a few times; every file is verified whole after each remount.
# A second, shorter run uses files up to 12 MiB so uploads are multipart.
# Afterwards every file is compared with its object in the bucket (s3curl +
# cmp). Seeds are printed (FSX_SEED=N replays). Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

ROOT=$BUCKETFS_ROOT
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=${BUCKETFS_BIN:-$BUILD/bucketfs}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
FSX=$BUILD/tests/tools/fsx
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
if [ ! -x "$FSX" ] || [ "$ROOT/tests/tools/fsx.cpp" -nt "$FSX" ]; then
  mkdir -p "$(dirname "$FSX")"
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$FSX.tmp.$$" "$ROOT/tests/tools/fsx.cpp" && mv "$FSX.tmp.$$" "$FSX" ||
    t_abort "cannot build fsx"
fi
with_server rgw || t_abort "cannot start rgw"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
OPTS="$(m_opts),part_size=5,unmount_grace=0,stat_ttl=1,dir_ttl=1"
# the remount script: unmount, wait for the daemon to exit, mount again (the
# daemon's PID goes to $T_TMP/pid.mnt so the cleanup finds the last one)
cat >"$T_TMP/remount.sh" <<EOF
#!/bin/sh
mnt='$MNT'; pidf='$T_TMP/pid.mnt'; log='$T_TMP/bucketfs.log'
echo "\$(date '+%T') remount" >>'$T_TMP/remounts'
fusermount3 -u "\$mnt" || exit 1
pid=\$(cat "\$pidf")
i=0
while kill -0 "\$pid" 2>/dev/null; do
  i=\$((i + 1)); [ \$i -gt 300 ] && { echo "remount: daemon \$pid did not exit" >&2; exit 1; }
  sleep 0.1
done
'$BIN' '$S3_BUCKET' "\$mnt" -f -o '$OPTS' >>"\$log" 2>&1 &
echo \$! >"\$pidf"
i=0
until awk -v m="\$mnt" '\$2 == m { f = 1 } END { exit !f }' /proc/mounts; do
  i=\$((i + 1)); [ \$i -gt 200 ] && { echo "remount: no mount after 20 s" >&2; exit 1; }
  sleep 0.1
done
EOF
chmod +x "$T_TMP/remount.sh"
# at exit: unmount whatever mount the remount script left, then the daemon
final_cleanup() { m_cleanup "$MNT" "$(cat "$T_TMP/pid.mnt" 2>/dev/null)"; }
t_cleanup_push final_cleanup
m_mount "$MNT" -o part_size=5,unmount_grace=0,stat_ttl=1,dir_ttl=1 || t_abort "mount failed"

# fsx_run NAME SEED ARGS...: fsx must pass; then the bucket must match the mount
fsx_run() {
  local name=$1 seed=$2 rc f ok=0 n=0 remounts
  shift 2
  : >"$T_TMP/remounts"
  echo "  fsx $name: seed $seed"
  "$FSX" --seed "$seed" --prefix "$name" --remount-cmd "$T_TMP/remount.sh" --keep "$@" "$MNT" >"$T_TMP/fsx.out" 2>&1
  rc=$?
  tail -n 3 "$T_TMP/fsx.out" | sed 's/^/  /'
  t_check "fsx $name (seed $seed): exit" "$rc" 0
  [ "$rc" = 0 ] || sed -n '1,60p' "$T_TMP/fsx.out"
  remounts=$(wc -l <"$T_TMP/remounts")
  if [ "$remounts" -ge 2 ]; then t_ok "fsx $name: remounted $remounts times"; else t_fail "fsx $name: remounts" "$remounts"; fi
  m_is_mounted "$MNT" || t_abort "no mount after fsx $name"
  "$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 180 >/dev/null ||
    t_fail "fsx $name: uploads drained" "still pending after 180 s"
  for f in "$MNT/$name".*; do
    n=$((n + 1))
    rm -f "$T_TMP/got"
    if s3curl GET "${f#"$MNT"/}" -o "$T_TMP/got" -f 2>/dev/null && cmp -s "$T_TMP/got" "$f"; then ok=$((ok + 1)); else
      echo "  ${f#"$MNT"/}: the bucket differs from the mount ($(stat -c %s "$T_TMP/got" 2>/dev/null) vs $(stat -c %s "$f"))"
    fi
  done
  if [ "$n" -gt 0 ]; then t_check "fsx $name: $n files in the bucket equal the mount" "$ok" "$n"; else
    t_fail "fsx $name: files kept" 0
  fi
  # a file unlinked while open never reaches the bucket: the same names there as in the mount
  t_check "fsx $name: the bucket holds exactly the mount's files" \
    "$(S3_QUERY=$(s3_query list-type=2 "prefix=$name.") s3curl GET "" | grep -o '<Key>[^<]*</Key>' | wc -l)" "$n"
  t_check "fsx $name: status shows nothing failed" \
    "$("$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --json | grep -o '"failed":\[[^]]*\]')" '"failed":[]'
}

S1=${FSX_SEED:-$RANDOM}
fsx_run small "$S1" --ops 3000 --files 4 --maxsize 1M --maxlen 128K --remount-every 600
fsx_run big "$((S1 + 1))" --ops 400 --files 3 --maxsize 12M --maxlen 3M --remount-every 100
final_cleanup
if grep -qE 'terminate called|Segmentation|Aborted|AddressSanitizer' "$M_LOG"; then
  t_fail "no crash in the daemon log" "$(grep -E 'terminate|Segmentation|Aborted' "$M_LOG" | head -n 3)"
else
  t_ok "no crash in the daemon log"
fi
t_summary
