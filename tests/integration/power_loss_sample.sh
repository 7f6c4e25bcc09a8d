#!/usr/bin/env bash
# power_loss_sample.sh - power-loss crash states through the real binary over
# Ceph RGW (issue 11; the in-process harness is tests/crash/crash_check, see
# tests/crash/README.md).
#
#   1. The bucket gets older versions of some names first. A fault proxy in
#      --hold-writes mode sits in front of RGW: no request that would change
#      the bucket ever reaches it (DELETEs of objects are answered 204 without
#      asking it, uploads 403), so every file the workload closes stays
#      pending and the bucket at ANY crash point is the bucket before the
#      workload. The workload only deletes (rm, mv) names that are not in the
#      bucket, so the fake DELETEs change nothing (checked).
#   2. bucketfs runs with the LD_PRELOAD recorder (tests/crash/trace_shim.so)
#      tracing its cache dir; the workload (creates, overwrites, appends,
#      renames also over a pending file, unlinks, chmods, one multipart file)
#      runs through the mount and appends each request's begin and answer
#      (cp/mv/rm/chmod returned) to the same log.
#   3. crash_states builds a sample of crash states from the log (both
#      models). For each: the bucket is put back as it was, the state's cache
#      dir put in place, bucketfs mounted (the proxy now passes everything,
#      same endpoint so the same cache layout), `bucketfs status --wait`,
#      unmounted; the bucket is read with curl --aws-sigv4 (content sha256,
#      x-amz-meta-mode) and checked by crash_states --verify against what the
#      requests answered before the crash point require; no multipart upload
#      may be left open.
# One test per state. Env: POWER_LOSS_STATES (30), POWER_LOSS_SEED (random).
# Replay a state: the failing line names it; rerun with POWER_LOSS_SEED and
# look at the kept trace (printed) with build/tests/crash/crash_states.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
CRASH_DIR=$(cd "$(dirname "$BIN")" && pwd)/tests/crash
SHIM=$CRASH_DIR/trace_shim.so
STATES=$CRASH_DIR/crash_states
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
[ -r "$SHIM" ] && [ -x "$STATES" ] || t_abort "no recorder/crash_states under $CRASH_DIR (run make tests-build)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
N_STATES=${POWER_LOSS_STATES:-30}
SEED=${POWER_LOSS_SEED:-$(((RANDOM << 15 | RANDOM) % 1000000))}
echo "power_loss_sample: seed $SEED, $N_STATES states"
RANDOM=$SEED

with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"
# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"
start_proxy --hold-writes || t_abort "faultproxy did not start"
MNT=$T_TMP/mnt
CACHE=$T_TMP/cache
LOG=$T_TMP/trace.log
W=$T_TMP/work
MOPTS=(-o part_size=5,upload_concurrency=2)
mkdir -p "$W/cur"

# --- the bucket before the workload ---
META=(-H 'x-amz-meta-mode: 33188' -H 'x-amz-meta-uid: 1000' -H 'x-amz-meta-gid: 1000' -H 'x-amz-meta-mtime: 1600000000')
INITIAL=(old0 old1 old2 d/old3 d/keep)
for k in "${INITIAL[@]}"; do head -c $((RANDOM * 8)) /dev/urandom >"$W/init.$(echo "$k" | tr / _)"; done
put_initial() {
  local k
  for k in "${INITIAL[@]}"; do
    [ "$(s3_status PUT "$k" -T "$W/init.$(echo "$k" | tr / _)" "${META[@]}")" = 200 ] || return 1
  done
}
put_initial || t_abort "cannot put the initial objects"

# mount_via_proxy: mounts MNT through the proxy (m_mount with url=$PX)
mount_via_proxy() { S3_ENDPOINT=$PX m_mount "$MNT" "${MOPTS[@]}"; }
# The recorded daemon: bucketfs exec'd with the recorder preloaded (only it:
# the shim keeps its own children untraced).
TRACED=$T_TMP/bucketfs-traced
printf '#!/bin/sh\nexec env LD_PRELOAD=%q BFS_TRACE_DIR=%q BFS_TRACE_OUT=%q BFS_TRACE_AUTOSTART=1 %q "$@"\n' \
  "$SHIM" "$CACHE" "$LOG" "$BIN" >"$TRACED" && chmod +x "$TRACED"

# The cache dir as an earlier mount leaves it, durable: tracing starts there.
mount_via_proxy || t_abort "first mount failed"
m_umount "$MNT"
sync

# --- the recorded workload ---
BIN=$TRACED mount_via_proxy || t_abort "traced mount failed"
ev() { printf 'ev %s\n' "$*" >>"$LOG"; }
for k in "${INITIAL[@]}"; do
  f=$W/init.$(echo "$k" | tr / _)
  ev "bucket-init key=$k sha=$(sha256sum <"$f" | cut -c1-64) size=$(stat -c %s "$f") mode=33188 uid=1000 gid=1000 mtime=1600000000"
done
ev "workload-start"
REQ=0
declare -A MODE=()   # name -> st_mode of its current version
declare -A OURS=()   # names written by the workload that were never in the bucket (may be moved/removed)
cur() { echo "$W/cur/$(echo "$1" | tr / _)"; }
version() { echo "sha=$(sha256sum <"$1" | cut -c1-64) size=$(stat -c %s "$1") mode=$2 uid=* gid=* mtime=*"; }
# req FIELDS CMD...: the request's begin, the command, its answer
req() {
  local fields=$1 rc
  shift
  REQ=$((REQ + 1))
  ev "fuse begin id=$REQ $fields"
  "$@" 2>>"$T_TMP/workload.err"
  rc=$?
  ev "fuse end id=$REQ rc=$rc"
  return $rc
}
size() { if [ $((RANDOM % 8)) = 0 ]; then echo $((RANDOM * 20)); else echo $((RANDOM % 16384)); fi; }
write_file() { # write_file NAME [SIZE]: create or overwrite (O_TRUNC) through cp
  local n=$1 m=${MODE[$1]:-33188}
  head -c "${2:-$(size)}" /dev/urandom >"$W/new"
  req "op=close path=$n $(version "$W/new" "$m")" cp "$W/new" "$MNT/$n" && mv "$W/new" "$(cur "$n")" && MODE[$n]=$m
}
append_file() {
  local n=$1
  head -c $((RANDOM % 9000 + 1)) /dev/urandom >"$W/extra"
  cat "$(cur "$n")" "$W/extra" >"$W/new"
  req "op=close path=$n $(version "$W/new" "${MODE[$n]}")" sh -c 'cat "$1" >>"$2"' - "$W/extra" "$MNT/$n" &&
    mv "$W/new" "$(cur "$n")"
}
pick_ours() { local a=("${!OURS[@]}"); [ ${#a[@]} -gt 0 ] && echo "${a[RANDOM % ${#a[@]}]}"; }
NEXT=0
# fresh: sets FRESH to a name never used (not in a subshell: NEXT must advance)
fresh() {
  NEXT=$((NEXT + 1))
  if [ $((RANDOM % 2)) = 0 ]; then FRESH=f$NEXT; else FRESH=d/f$NEXT; fi
}

for k in old0 old1 d/old3; do write_file "$k"; done # overwrites of names in the bucket
for _ in 1 2 3 4 5 6; do fresh && write_file "$FRESH" && OURS[$FRESH]=1; done
fresh && write_file "$FRESH" $((6 * 1024 * 1024 + 12345)) && OURS[$FRESH]=1 # multipart at 5 MiB parts
for _ in $(seq 1 24); do
  a=$(pick_ours) || a=
  case $((RANDOM % 8)) in
    0) fresh && write_file "$FRESH" && OURS[$FRESH]=1 ;;
    1) [ -n "$a" ] && write_file "$a" ;;
    2) [ -n "$a" ] && append_file "$a" ;;
    3) [ -n "$a" ] && fresh && b=$FRESH && req "op=rename path=$a to=$b" mv "$MNT/$a" "$MNT/$b" &&
      mv "$(cur "$a")" "$(cur "$b")" && MODE[$b]=${MODE[$a]} && unset "OURS[$a]" && OURS[$b]=1 ;;
    4) b=$(pick_ours) && [ -n "$a" ] && [ "$a" != "$b" ] && req "op=rename path=$a to=$b" mv "$MNT/$a" "$MNT/$b" &&
      mv "$(cur "$a")" "$(cur "$b")" && MODE[$b]=${MODE[$a]} && unset "OURS[$a]" ;;
    5) [ -n "$a" ] && [ ${#OURS[@]} -gt 3 ] && req "op=unlink path=$a" rm "$MNT/$a" && unset "OURS[$a]" ;;
    6) [ -n "$a" ] && m=$((32768 + (RANDOM % 2 ? 0600 : 0640))) &&
      req "op=chmod path=$a writer=0 $(version "$(cur "$a")" "$m")" chmod "$(printf '%o' $((m & 07777)))" "$MNT/$a" &&
      MODE[$a]=$m ;;
    7) write_file old2 ;;
  esac
done
ev "workload-end"
m_umount "$MNT"
failed_reqs=$(grep -a '^ev fuse end .*rc=[1-9]' "$LOG")
t_check "the workload's requests all answered 0" "$failed_reqs$(cat "$T_TMP/workload.err" 2>/dev/null)" ""
# The proxy answered DELETEs without the server: only of keys that were never there.
held_deletes=$(grep -c ' DELETE .*fault=held' "$PX_LOG")
bad=0
for k in "${INITIAL[@]}"; do grep -q " DELETE /$S3_BUCKET/$k fault=held" "$PX_LOG" && bad=$((bad + 1)); done
t_check "no held DELETE of a key the bucket had ($held_deletes held)" "$bad" 0
curl -sSf --max-time 10 -X POST "$PX/__fault/config" -d '{"holdWrites": false}' >/dev/null ||
  t_abort "cannot switch the proxy to pass-through"

# --- the crash states ---
"$STATES" --log "$LOG" --out "$T_TMP/states" --count "$N_STATES" --seed "$SEED" >"$T_TMP/states.list" ||
  t_abort "crash_states could not build the states"
# dump_bucket: "KEY SHA256 SIZE MODE UID GID MTIME" per object (curl only)
dump_bucket() {
  local k v f
  S3_QUERY=$(s3_query list-type=2) s3curl GET "" | grep -o '<Key>[^<]*</Key>' | sed 's|<Key>||; s|</Key>||' |
    while IFS= read -r k; do
      [ "$(s3_status GET "$k")" = 200 ] || continue
      printf '%s %s %s' "$k" "$(sha256sum <"$T_TMP/body" | cut -c1-64)" "$(stat -c %s "$T_TMP/body")"
      for f in mode uid gid mtime; do v=$(s3_header "x-amz-meta-$f") && printf ' %s' "${v:--}"; done
      echo
    done
}
while read -r n spec; do
  t0=$SECONDS
  t_empty_bucket
  put_initial || { t_fail "state $n ($spec)" "cannot put the bucket back"; continue; }
  rm -rf "$CACHE" && mv "$T_TMP/states/$n/cache" "$CACHE"
  if ! mount_via_proxy; then
    t_fail "state $n ($spec)" "the mount failed: $(tail -n 1 "$M_LOG")"
    continue
  fi
  stuck=
  "$BIN" status "$MNT" --cache-dir "$CACHE" --wait --timeout 120 >/dev/null 2>&1 || stuck="recovery did not finish"
  m_umount "$MNT"
  dump_bucket >"$T_TMP/dump"
  open=$(open_uploads)
  verdict=$("$STATES" --log "$LOG" --verify "$spec" --bucket "$T_TMP/dump" 2>&1 | grep '^violation' | cut -c1-400)
  [ "$open" = 0 ] || verdict+=$'\n'"violation: open-upload: $open multipart upload(s) left open"
  [ -z "$stuck" ] || verdict+=$'\n'"violation: recovery-stuck: $stuck"
  if [ -z "$verdict" ]; then
    t_ok "state $n ($spec, $((SECONDS - t0)) s)"
  else
    t_fail "state $n ($spec, $((SECONDS - t0)) s)" "$(echo "$verdict" | head -n 3 | tr '\n' ' ') lost: $(sed -n '2,4p' "$T_TMP/states/$n/spec" | tr '\n' ' ')"
  fi
done <"$T_TMP/states.list"
if [ "$T_FAILED" != 0 ]; then
  cp "$LOG" "${TMPDIR:-/tmp}/bucketfs-power-loss-$SEED.log" &&
    echo "trace kept: ${TMPDIR:-/tmp}/bucketfs-power-loss-$SEED.log (crash_states --log it --verify SPEC --bucket DUMP)"
fi
t_summary
