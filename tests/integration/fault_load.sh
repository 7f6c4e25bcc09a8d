#!/usr/bin/env bash
# fault_load.sh - load, over Ceph RGW: 8 writers each copy 20 files (0 B to
# 6 MiB, so some are multipart with part_size=5) into the mount while 4 readers
# read and compare other files (put into the bucket beforehand) and `ls -lR`
# runs in a loop. No operation may fail, every written file must be in the
# bucket byte-identical (through s3curl), the readers must see the right bytes,
# and the daemon's peak RSS (VmHWM, sampled from /proc) must stay below
# 64 MiB + 2 x part_size x upload_concurrency + read_memory.
# Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
with_server rgw || t_abort "cannot start rgw"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

WRITERS=8
FILES=20
READERS=4
PART_MIB=5
CONC=4
READ_MIB=32
LIMIT_KIB=$(((64 + 2 * PART_MIB * CONC + READ_MIB) * 1024))
MNT=$T_TMP/mnt
SRC=$T_TMP/src
mkdir -p "$SRC/r" "$T_TMP/err"

# size_of W I: a deterministic mix of sizes (0 B, small, medium, multipart)
size_of() {
  local n=$((($1 * 131 + $2 * 17) % 10))
  case $n in
    0) echo 0 ;;
    1 | 2 | 3) echo $((($1 * 977 + $2 * 4099) % 65536 + 1)) ;;
    4 | 5 | 6) echo $((($1 * 7919 + $2 * 104729) % 1048576 + 100000)) ;;
    *) echo $((($1 * 104729 + $2 * 1299709) % (6 * 1048576) + 1048576)) ;;
  esac
}
head -c $((8 * 1048576)) /dev/urandom >"$T_TMP/pool"
for w in $(seq 1 $WRITERS); do
  mkdir -p "$SRC/w$w"
  for i in $(seq 1 $FILES); do
    # unique content: a header naming the file, then a slice of the pool
    { printf 'w%d/f%d\n' "$w" "$i"; tail -c +$(((w * 31 + i) * 4097 % 1048576 + 1)) "$T_TMP/pool"; } |
      head -c "$(size_of "$w" "$i")" >"$SRC/w$w/f$i.bin"
  done
done
# files for the readers, put straight into the bucket
for r in $(seq 1 8); do
  head -c $((r * 700000 + 13)) /dev/urandom >"$SRC/r/r$r.bin"
  t_check "put read/r$r.bin" "$(s3_status PUT "read/r$r.bin" -T "$SRC/r/r$r.bin")" 200
done

m_mount "$MNT" -o "part_size=$PART_MIB,upload_concurrency=$CONC,read_memory=$READ_MIB,stat_ttl=1,dir_ttl=1" ||
  t_abort "mount failed"
PID=$(cat "$T_TMP/pid.mnt")
echo "  daemon pid $PID, RSS limit $((LIMIT_KIB / 1024)) MiB"

# sampler: peak VmHWM and VmRSS, every 0.2 s, until the stop file appears
(
  while [ ! -e "$T_TMP/stop" ] && kill -0 "$PID" 2>/dev/null; do
    awk '/^(VmHWM|VmRSS):/ { print $1, $2 }' "/proc/$PID/status" 2>/dev/null | tr '\n' ' '
    echo
    sleep 0.2
  done >"$T_TMP/mem"
) &
SAMPLER=$!
writer() {
  local w=$1 i
  mkdir -p "$MNT/w$w" || echo "mkdir w$w failed" >>"$T_TMP/err/w$w"
  for i in $(seq 1 $FILES); do
    cp "$SRC/w$w/f$i.bin" "$MNT/w$w/f$i.bin" 2>>"$T_TMP/err/w$w" || echo "cp w$w/f$i failed" >>"$T_TMP/err/w$w"
  done
}
reader() {
  local r=$1 n=0 f
  while [ ! -e "$T_TMP/writers-done" ]; do
    for f in $(seq 1 8); do
      cmp "$SRC/r/r$f.bin" "$MNT/read/r$f.bin" >>"$T_TMP/err/r$r" 2>&1 || echo "read r$f.bin differs" >>"$T_TMP/err/r$r"
      n=$((n + 1))
    done
  done
  echo "$n" >"$T_TMP/reads.$r"
}
lister() {
  local n=0
  while [ ! -e "$T_TMP/writers-done" ]; do
    ls -lR "$MNT" >/dev/null 2>>"$T_TMP/err/ls" || echo "ls -lR failed" >>"$T_TMP/err/ls"
    n=$((n + 1))
  done
  echo "$n" >"$T_TMP/lists"
}
t0=$(date +%s)
pids=()
for r in $(seq 1 $READERS); do
  reader "$r" &
  pids+=($!)
done
lister &
pids+=($!)
wpids=()
for w in $(seq 1 $WRITERS); do
  writer "$w" &
  wpids+=($!)
done
wait "${wpids[@]}"
t1=$(date +%s)
touch "$T_TMP/writers-done"
wait "${pids[@]}"
echo "  writers done in $((t1 - t0)) s; $(cat "$T_TMP"/reads.* | awk "{ s += \$1 } END { print s + 0 }") reads, $(cat "$T_TMP/lists") ls -lR"
"$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 300 >/dev/null ||
  t_fail "status --wait" "uploads did not drain in 300 s"
echo "  all uploaded $(($(date +%s) - t0)) s after the start"
touch "$T_TMP/stop"
wait "$SAMPLER"

errs=$(cat "$T_TMP"/err/* 2>/dev/null)
if [ -z "$errs" ]; then t_ok "no writer, reader or ls -lR error"; else t_fail "errors under load" "$(head -n 5 <<<"$errs")"; fi
[ "$(cat "$T_TMP"/reads.* | awk "{ s += \$1 } END { print s + 0 }")" -gt 0 ] && t_ok "readers ran" || t_fail "readers ran"
bad=0
for w in $(seq 1 $WRITERS); do
  for i in $(seq 1 $FILES); do
    rm -f "$T_TMP/got"
    if ! s3curl GET "w$w/f$i.bin" -o "$T_TMP/got" -f 2>/dev/null || ! cmp -s "$T_TMP/got" "$SRC/w$w/f$i.bin"; then
      bad=$((bad + 1))
      echo "  w$w/f$i.bin: missing or different in the bucket"
    fi
  done
done
t_check "all $((WRITERS * FILES)) files byte-identical in the bucket" "$bad" 0
t_check "status: nothing pending or failed" \
  "$("$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --json | grep -o '"pending":\[\],"failed":\[\]')" \
  '"pending":[],"failed":[]'
hwm=$(awk '{ for (i = 1; i < NF; i++) if ($i == "VmHWM:" && $(i + 1) > m) m = $(i + 1) } END { print m + 0 }' "$T_TMP/mem")
samples=$(wc -l <"$T_TMP/mem")
echo "  peak RSS (VmHWM) $((hwm / 1024)) MiB over $samples samples"
if [ "$samples" -gt 5 ] && [ "$hwm" -gt 0 ] && [ "$hwm" -le "$LIMIT_KIB" ]; then
  t_ok "daemon peak RSS $((hwm / 1024)) MiB <= $((LIMIT_KIB / 1024)) MiB"
else
  t_fail "daemon peak RSS" "$((hwm / 1024)) MiB (limit $((LIMIT_KIB / 1024)) MiB, $samples samples)"
fi
m_umount "$MNT"
if m_is_mounted "$MNT"; then t_fail "unmounted"; else t_ok "unmounted"; fi
t_check "no error lines in the daemon log" "$(grep -ciE ' error:|terminate called|Segmentation' "$M_LOG")" 0
t_summary
