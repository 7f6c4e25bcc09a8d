#!/usr/bin/env bash
# run.sh - side-by-side benchmark of bucketfs against raw curl, s3fs and
# rclone on one local S3 server (`make bench`; see bench/README.md).
#
# Starts Ceph RGW with a bluestore OSD on 127.0.0.1 (BENCH_STORE=memstore for
# a memstore OSD, BENCH_SERVER=s3rver for s3rver), optionally behind a shaping
# relay that looks like a wide-area link (BENCH_NET=wan), runs every workload
# for every contender in turn, BENCH_RUNS times, and writes the profile's
# report bench/results/PROFILE.md (median and min-max, ratios to curl and to
# bucketfs), PROFILE.tsv (raw numbers) and PROFILE.png (gnuplot chart), then
# bench/results/latest.md: every profile's report in the results dir, in one
# file. PROFILE is SERVER[-STORE][-wan], e.g. rgw-memstore-wan.
# Never a pass/fail test: it exits 0 when the report was written.
#
# Env:
#   BENCH_QUICK=1        256 MiB instead of 1 GiB (1 GiB instead of 4 for the
#                        memory run), 250 small files, 50 random reads, 1 run
#   BENCH_BIG_MIB BENCH_HUGE_MIB BENCH_SMALL_N BENCH_LIST_N BENCH_RAND_N  sizes
#   BENCH_RUNS=N         runs per workload and contender (3; quick: 1)
#   BENCH_SERVER         rgw (default) or s3rver
#   BENCH_STORE          RGW's object store: bluestore (default; a sparse file
#                        under BENCH_DIR) or memstore (in RAM, BENCH_STORE_BYTES)
#   BENCH_NET            loopback (default) or wan: every contender, raw curl
#                        included, reaches the server through tests/tools/
#                        faultproxy.js's shaping relay (the bench's own checks
#                        of the bucket do not); workloads 1, 3, 4 by default
#   BENCH_WAN_RTT_MS BENCH_WAN_MB_PER_S   the wan link: added round-trip time
#                        (20) and cap per connection and direction (40 MB/s)
#   BENCH_WORKLOADS      subset of "1 2 3 4 5 6" (default all; wan: "1 3 4")
#   BENCH_CONTENDERS     subset of "curl curlp bucketfs s3fs rclone"
#   BENCH_DIR            scratch dir for source files and caches (/var/tmp/bucketfs-bench)
#   BENCH_STORE_BYTES    bluestore file size, sparse (16 GiB); memstore capacity (8 GiB)
#   BENCH_MPU_PART_MIB, BENCH_MPU_JOBS   the parallel curl upload (64, 4)
#   BENCH_OUT            results dir (bench/results)
#   BENCH_STATUS_TIMEOUT seconds `bucketfs status --wait` may take before FAIL (120)
#   BUILD                build dir holding the bucketfs binary (build)
set -uo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/bench
# shellcheck source=tests/lib/common.sh
. "$ROOT/tests/lib/common.sh"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  BIG_MIB=256 HUGE_MIB=1024 SMALL_N=250 RAND_N=50 RUNS=${BENCH_RUNS:-1}
else
  BIG_MIB=1024 HUGE_MIB=4096 SMALL_N=1000 RAND_N=200 RUNS=${BENCH_RUNS:-3}
fi
BIG_MIB=${BENCH_BIG_MIB:-$BIG_MIB}
HUGE_MIB=${BENCH_HUGE_MIB:-$HUGE_MIB}
SMALL_N=${BENCH_SMALL_N:-$SMALL_N}
LIST_N=${BENCH_LIST_N:-10000}
RAND_N=${BENCH_RAND_N:-$RAND_N}
SERVER=${BENCH_SERVER:-rgw}
STORE=${BENCH_STORE:-bluestore}
NET=${BENCH_NET:-loopback}
WAN_RTT_MS=${BENCH_WAN_RTT_MS:-20}
WAN_MB_PER_S=${BENCH_WAN_MB_PER_S:-40}
if [ "$NET" = wan ]; then WORKLOADS=${BENCH_WORKLOADS:-1 3 4}; else WORKLOADS=${BENCH_WORKLOADS:-1 2 3 4 5 6}; fi
CONTENDERS=${BENCH_CONTENDERS:-curl curlp bucketfs s3fs rclone}
MPU_PART_MIB=${BENCH_MPU_PART_MIB:-64}
MPU_JOBS=${BENCH_MPU_JOBS:-4}
BUILD=${BUILD:-build}
BFS=${BFS:-$ROOT/$BUILD/bucketfs}
OUT=${BENCH_OUT:-$HERE/results}
WORK=${BENCH_DIR:-/var/tmp/bucketfs-bench}
PROFILE=$SERVER$([ "$SERVER" = rgw ] && echo "-$STORE")$([ "$NET" = wan ] && echo -wan)
RAW=$OUT/$PROFILE.tsv
BIG_BYTES=$((BIG_MIB * 1048576))
HUGE_BYTES=$((HUGE_MIB * 1048576))

case $SERVER in rgw | s3rver) ;; *)
  echo "bench: BENCH_SERVER must be rgw or s3rver" >&2
  exit 2
  ;;
esac
case $STORE in bluestore | memstore) ;; *)
  echo "bench: BENCH_STORE must be bluestore or memstore (RGW's OSD)" >&2
  exit 2
  ;;
esac
case $NET in loopback | wan) ;; *)
  echo "bench: BENCH_NET must be loopback or wan" >&2
  exit 2
  ;;
esac
has() { [[ " $2 " == *" $1 "* ]]; }
mounts_in() { # the mount contenders among CONTENDERS
  local c out=()
  for c in bucketfs s3fs rclone; do has "$c" "$CONTENDERS" && out+=("$c"); done
  echo "${out[@]}"
}
MOUNT_CONTENDERS=$(mounts_in)

"$HERE/deps.sh" || exit 1 # s3fs, rclone, gnuplot from Debian when missing
for tool in curl fusermount3 gnuplot $([ "$NET" = wan ] && echo node); do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing; run make bench (installs it)" >&2; exit 1; }
done
has s3fs "$CONTENDERS" && ! command -v s3fs >/dev/null && { echo "bench: s3fs missing" >&2; exit 1; }
has rclone "$CONTENDERS" && ! command -v rclone >/dev/null && { echo "bench: rclone missing" >&2; exit 1; }
has bucketfs "$CONTENDERS" && [ ! -x "$BFS" ] && { echo "bench: $BFS missing; run make" >&2; exit 1; }

mkdir -p "$OUT"
[ -e "$WORK" ] && [ -n "$(ls -A "$WORK" 2>/dev/null)" ] && [ ! -f "$WORK/.bucketfs-bench" ] &&
  { echo "bench: $WORK exists and is not a bench dir; set BENCH_DIR" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"/{src,mnt,srv}
touch "$WORK/.bucketfs-bench"
t_cleanup_push rm -rf "$WORK"
t_cleanup_push bench_cleanup # runs first: unmount before the server stops and the dir goes
T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average at start: $LOAD_START (2 cores: above ~0.5 the numbers are disturbed)"

# --- server ---
say "starting $SERVER$([ "$SERVER" = rgw ] && echo " ($STORE)")"
if [ "$SERVER" = rgw ]; then
  t_cleanup_push "$ROOT/tests/servers/stop-rgw.sh" "$WORK/srv/rgw"
  if [ "$STORE" = memstore ]; then store_bytes=${BENCH_STORE_BYTES:-8589934592}; else store_bytes=${BENCH_STORE_BYTES:-17179869184}; fi
  OBJECTSTORE=$STORE STORE_BYTES=$store_bytes BUCKET=bench \
    "$ROOT/tests/servers/start-rgw.sh" "$WORK/srv/rgw" >/dev/null 2>"$WORK/srv-start.log" ||
    { cat "$WORK/srv-start.log" >&2; exit 1; }
  t_load_env "$WORK/srv/rgw/env"
  BFS_OPTS=${BFS_OPTS:-}
  RCLONE_PROVIDER=Ceph
else
  t_cleanup_push "$ROOT/tests/servers/stop-s3rver.sh" "$WORK/srv/s3rver"
  BUCKET=bench "$ROOT/tests/servers/start-s3rver.sh" "$WORK/srv/s3rver" >/dev/null 2>"$WORK/srv-start.log" ||
    { cat "$WORK/srv-start.log" >&2; exit 1; }
  t_load_env "$WORK/srv/s3rver/env"
  BFS_OPTS=${BFS_OPTS:-sigv=2}
  RCLONE_PROVIDER=Other
fi
say "server at $S3_ENDPOINT, bucket $S3_BUCKET"
# the server's processes, whose CPU each run of workloads 1 and 2 records
SERVER_PIDS=$(cat "$WORK"/srv/*/run/*.pid 2>/dev/null | tr '\n' ' ')
# The bench's own looks at the bucket (is it complete? how many keys?) go
# straight to the server: S3_DIRECT. The contenders use S3_ENDPOINT, which on
# the wan profile is the shaping relay.
export S3_DIRECT=$S3_ENDPOINT
if [ "$NET" = wan ]; then
  node "$ROOT/tests/tools/faultproxy.js" --upstream "$S3_DIRECT" --port-file "$WORK/srv/wan.port" \
    --log "$WORK/srv/wan.log" --shape-rtt-ms "$WAN_RTT_MS" --shape-mb-per-s "$WAN_MB_PER_S" \
    </dev/null >"$WORK/srv/wan.stderr" 2>&1 &
  WAN_PID=$!
  t_cleanup_push stop_pid "$WAN_PID"
  SERVER_PIDS="$SERVER_PIDS $WAN_PID"
  for ((i = 0; i < 100; i++)); do [ -s "$WORK/srv/wan.port" ] && break; sleep 0.1; done
  [ -s "$WORK/srv/wan.port" ] || { cat "$WORK/srv/wan.stderr" >&2; exit 1; }
  export S3_ENDPOINT=http://127.0.0.1:$(cat "$WORK/srv/wan.port")
  HANDSHAKE_S=$(awk -v r="$WAN_RTT_MS" 'BEGIN { print r / 1000 }') # see list_timed
  say "wan: contenders use the shaping relay at $S3_ENDPOINT (rtt $WAN_RTT_MS ms, $WAN_MB_PER_S MB/s per connection)"
fi

PASSWD=$WORK/passwd
(umask 077 && printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$PASSWD")
RCLONE_CONF=$WORK/rclone.conf
(umask 077 && cat >"$RCLONE_CONF" <<CONF
[bench]
type = s3
provider = $RCLONE_PROVIDER
access_key_id = $S3_ACCESS_KEY
secret_access_key = $S3_SECRET_KEY
endpoint = $S3_ENDPOINT
region = $S3_REGION
force_path_style = true
CONF
)

# --- source data ---
say "making source files (${BIG_MIB} MiB, ${SMALL_N} x 4 KiB)"
head -c "$BIG_BYTES" /dev/urandom >"$WORK/src/big.bin"
mkdir -p "$WORK/src/small"
for ((i = 0; i < SMALL_N; i++)); do printf -v f '%s/src/small/f%04d.dat' "$WORK" "$i"; head -c 4096 /dev/urandom >"$f"; done
sync # their writeback would otherwise land in the first run's measurements
: >"$RAW"

mnt_of() { echo "$WORK/mnt/$1"; }
wd_of() { echo "$WORK/state/$1-$2"; } # WHO TAG: a fresh cache dir per mount
# fresh_mount WHO TAG: mount WHO with a new cache dir; sets MNT, WD, MOUNT_PID
fresh_mount() {
  MNT=$(mnt_of "$1")
  WD=$(wd_of "$1" "$2")
  rm -rf "$WD"
  mount_fs "$1" "$MNT" "$WD"
}
drop_state() { rm -rf "$WD"; }
# bucketfs status --wait, bounded: an upload stuck in retries counts as FAIL, not a hang
bfs_wait() { "$BFS" status --cache-dir "$WD/cache" --wait --timeout "${BENCH_STATUS_TIMEOUT:-120}" >/dev/null 2>&1; }

# --- can bucketfs write yet? (the staged write path is being finished) ---
BFS_WRITES=0
if has bucketfs "$CONTENDERS"; then
  if fresh_mount bucketfs probe; then
    echo probe >"$WORK/probe.txt"
    if cp "$WORK/probe.txt" "$MNT/probe.txt" 2>"$WORK/probe.err" && wait_size probe.txt 6 30; then
      BFS_WRITES=1
    else
      say "bucketfs cannot write yet ($(head -c 200 "$WORK/probe.err")): its write workloads are skipped"
    fi
    umount_fs "$MNT"
    drop_state
  fi
fi
# can WHO run a write workload?
can_write() { [ "$1" != bucketfs ] || [ "$BFS_WRITES" = 1 ]; }

# ---------------------------------------------------------------- workload 1
# cp of a large random file; times until cp returns and until complete in the
# bucket; peak RSS of the daemon meanwhile (workload 6a)
w1() {
  local run=$1 who key t0 tc ts rss cpu0
  say "workload 1: ${BIG_MIB} MiB written, run $run"
  t0=$(now_us)
  cp "$WORK/src/big.bin" "$WORK/local-copy.bin" && record w1_local local "$run" "$(secs "$t0")"
  rm -f "$WORK/local-copy.bin"
  # bucketfs's close fsyncs the staged file (a closed file survives a power
  # cut): the like-for-like local reference is cp followed by fsync of the copy
  t0=$(now_us)
  cp "$WORK/src/big.bin" "$WORK/local-copy.bin" && sync "$WORK/local-copy.bin" &&
    record w1_local_sync local "$run" "$(secs "$t0")"
  rm -f "$WORK/local-copy.bin"
  for who in $(rotated "$run" $CONTENDERS); do
    settle
    key=w1-$who-r$run.bin
    case $who in
      curl)
        cpu_mark
        t0=$(now_us)
        if [ "$(S3_QUERY='' s3curl PUT "$key" -T "$WORK/src/big.bin" -o /dev/null -w '%{http_code}')" = 200 ] &&
          [ "$(head_size "$key")" = "$BIG_BYTES" ]; then
          record w1_durable curl "$run" "$(secs "$t0")"
          cpu_record w1 curl "$run" "$t0"
        else
          record w1_durable curl "$run" FAIL
        fi
        ;;
      curlp)
        cpu_mark
        t0=$(now_us)
        if "$HERE/mpu-put.sh" "$WORK/src/big.bin" "$key" "$MPU_PART_MIB" "$MPU_JOBS" &&
          [ "$(head_size "$key")" = "$BIG_BYTES" ]; then
          record w1_durable curlp "$run" "$(secs "$t0")"
          cpu_record w1 curlp "$run" "$t0"
        else
          record w1_durable curlp "$run" FAIL
        fi
        ;;
      *)
        can_write "$who" || continue
        fresh_mount "$who" "w1-r$run" || { record w1_durable "$who" "$run" FAIL; continue; }
        rss_start "$MOUNT_PID" "$WD/rss"
        cpu0=$(cpu_ticks "$MOUNT_PID")
        cpu_mark
        t0=$(now_us)
        if cp "$WORK/src/big.bin" "$MNT/$key"; then
          tc=$(secs "$t0")
          # bucketfs: its own report first, then the HEAD that confirms it
          # (the time recorded as durable). Polling HEAD meanwhile is not
          # free on s3rver: a HEAD while CompleteMultipartUpload writes the
          # object makes s3rver read and hash the half-written object
          # (getMetadata creates the missing .md5), 1-2 s of its CPU per GiB.
          ts=
          if [ "$who" = bucketfs ]; then
            if bfs_wait; then ts=$(secs "$t0"); else ts=FAIL; fi
          fi
          if wait_size "$key" "$BIG_BYTES"; then
            record w1_cp "$who" "$run" "$tc"
            record w1_durable "$who" "$run" "$(secs "$t0")"
            cpu_record w1 "$who" "$run" "$t0"
            [ -z "$ts" ] || record w1_status bucketfs "$run" "$ts"
            record w1_cpu "$who" "$run" "$(awk -v a="$cpu0" -v b="$(cpu_ticks "$MOUNT_PID")" -v hz="$(getconf CLK_TCK)" \
              -v mib="$BIG_MIB" 'BEGIN { printf "%.2f", (b - a) / hz / (mib / 1024) }')"
          else
            record w1_durable "$who" "$run" FAIL
          fi
        else
          record w1_cp "$who" "$run" FAIL
        fi
        rss=$(rss_stop "$WD/rss")
        record w6_rss_w1 "$who" "$run" "$rss"
        umount_fs "$MNT"
        drop_state
        ;;
    esac
    s3_delete "$key"
    # Every contender finds the server in the same state, with the objects
    # deleted before it collected. On memstore, memory still held by deleted
    # objects made the next upload fault in fresh memory: in three benches
    # the second and later contenders of run 1 were the slow ones.
    reclaim
  done
}

# ---------------------------------------------------------------- workload 2
# cold sequential read (cat) and 200 random 1 MiB reads (dd), fresh mounts
w2_setup() {
  say "workload 2 setup: PUT w2/big.bin"
  [ "$(S3_ENDPOINT=$S3_DIRECT S3_QUERY='' s3curl PUT w2/big.bin -T "$WORK/src/big.bin" -o /dev/null -w '%{http_code}')" = 200 ] || return 1
  awk -v n="$RAND_N" -v max="$BIG_MIB" 'BEGIN { srand(42); for (i = 0; i < n; i++) print int(rand() * max) }' \
    >"$WORK/offsets"
  : >"$WORK/ranges.cfg"
  local off
  while read -r off; do
    printf 'url = "%s"\nrange = %d-%d\noutput = "/dev/null"\naws-sigv4 = "aws:amz:%s:s3"\nuser = "%s:%s"\nheader = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\nsilent\nshow-error\nnext\n' \
      "$S3_ENDPOINT/$S3_BUCKET/w2/big.bin" $((off * 1048576)) $((off * 1048576 + 1048575)) \
      "$S3_REGION" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >>"$WORK/ranges.cfg"
  done <"$WORK/offsets"
  sed -i '$d' "$WORK/ranges.cfg" # no "next" after the last block: curl would want a URL
  chmod 600 "$WORK/ranges.cfg"
}
rand_reads() { # FILE: dd 1 MiB at each offset
  local off
  while read -r off; do
    dd if="$1" of=/dev/null bs=1M count=1 skip="$off" status=none || return 1
  done <"$WORK/offsets"
}
w2() {
  local run=$1 who t0 ok mark
  say "workload 2: ${BIG_MIB} MiB read, run $run"
  for who in $(rotated "$run" $CONTENDERS); do
    settle
    case $who in
      curl)
        cpu_mark
        t0=$(now_us)
        if [ "$(S3_QUERY='' s3curl GET w2/big.bin -o /dev/null -w '%{size_download}')" = "$BIG_BYTES" ]; then
          record w2_seq curl "$run" "$(secs "$t0")"
          cpu_record w2 curl "$run" "$t0"
        else
          record w2_seq curl "$run" FAIL
        fi
        t0=$(now_us)
        if curl --config "$WORK/ranges.cfg"; then record w2_rand curl "$run" "$(secs "$t0")"; else record w2_rand curl "$run" FAIL; fi
        ;;
      curlp) ;;
      *)
        if fresh_mount "$who" "w2s-r$run"; then
          mark=$(t_log_mark)
          cpu0=$(cpu_ticks "$MOUNT_PID")
          cpu_mark
          t0=$(now_us)
          # Into /dev/null, like curl's -o /dev/null: a pipe to `wc -c` would
          # cost the mounts two more copies of every byte that curl does not
          # pay. dd's summary line counts what was read.
          ok=$(dd if="$MNT/w2/big.bin" of=/dev/null bs=1M 2>&1 | awk '/ bytes /{ print $1 }')
          if [ "$ok" = "$BIG_BYTES" ]; then
            record w2_seq "$who" "$run" "$(secs "$t0")"
            cpu_record w2 "$who" "$run" "$t0"
          else
            record w2_seq "$who" "$run" FAIL
          fi
          record w2_cpu "$who" "$run" "$(awk -v a="$cpu0" -v b="$(cpu_ticks "$MOUNT_PID")" -v hz="$(getconf CLK_TCK)" \
            -v mib="$BIG_MIB" 'BEGIN { printf "%.2f", (b - a) / hz / (mib / 1024) }')"
          # how the reader asked for the bytes: GETs of the object the server logged
          record w2_seq_gets "$who" "$run" "$(t_log_count "$mark" "\"GET /$S3_BUCKET/w2/big\\.bin[ ?]")"
          umount_fs "$MNT"
          drop_state
        else
          record w2_seq "$who" "$run" FAIL
        fi
        if fresh_mount "$who" "w2r-r$run"; then
          t0=$(now_us)
          if rand_reads "$MNT/w2/big.bin"; then record w2_rand "$who" "$run" "$(secs "$t0")"; else record w2_rand "$who" "$run" FAIL; fi
          umount_fs "$MNT"
          drop_state
        else
          record w2_rand "$who" "$run" FAIL
        fi
        ;;
    esac
  done
}

# ---------------------------------------------------------------- workload 3
# SMALL_N files of 4 KiB: curl PUTs one by one (curl) or 16 at a time (curlp);
# cp -r into each mount, then poll the listing until all keys are there
put_one() { S3_QUERY='' s3curl PUT "$1" -T "$2" -o /dev/null -w '%{http_code}\n'; }
w3() {
  local run=$1 who pfx t0 tc
  export -f s3curl s3_url s3_encode
  say "workload 3: $SMALL_N x 4 KiB, run $run"
  for who in $(rotated "$run" $CONTENDERS); do
    settle
    pfx=w3-$who-r$run
    case $who in
      curl)
        t0=$(now_us)
        for f in "$WORK"/src/small/*.dat; do put_one "$pfx/${f##*/}" "$f"; done | grep -vc '^200$' >/dev/null &&
          { record w3_durable curl "$run" FAIL; continue; }
        if [ "$(list_count "$pfx/" .dat)" = "$SMALL_N" ]; then record w3_durable curl "$run" "$(secs "$t0")"; else record w3_durable curl "$run" FAIL; fi
        ;;
      curlp)
        t0=$(now_us)
        (cd "$WORK/src/small" && ls) | S3_QUERY='' PFX=$pfx SRC=$WORK/src/small xargs -P 16 -I{} \
          bash -c 's3curl PUT "$PFX/$1" -T "$SRC/$1" -o /dev/null -w "%{http_code}\n"' _ {} | grep -vc '^200$' >/dev/null &&
          { record w3_durable curlp "$run" FAIL; continue; }
        if [ "$(list_count "$pfx/" .dat)" = "$SMALL_N" ]; then record w3_durable curlp "$run" "$(secs "$t0")"; else record w3_durable curlp "$run" FAIL; fi
        ;;
      *)
        can_write "$who" || continue
        fresh_mount "$who" "w3-r$run" || { record w3_durable "$who" "$run" FAIL; continue; }
        t0=$(now_us)
        if cp -r "$WORK/src/small" "$MNT/$pfx"; then
          tc=$(secs "$t0")
          if wait_count "$pfx/" .dat "$SMALL_N"; then
            record w3_cp "$who" "$run" "$tc"
            record w3_durable "$who" "$run" "$(secs "$t0")"
          else
            record w3_durable "$who" "$run" FAIL
          fi
        else
          record w3_cp "$who" "$run" FAIL
        fi
        umount_fs "$MNT"
        drop_state
        ;;
    esac
  done
}

# ---------------------------------------------------------------- workload 4
# ls -l of a directory of LIST_N objects on a fresh mount, vs the raw
# paginated listing with curl (LIST_N/1000 pages, one after the other)
w4_setup() {
  say "workload 4 setup: creating $LIST_N objects (parallel curl)"
  echo x >"$WORK/one.txt"
  # batches of 250 keys per curl process (one connection), 8 processes
  seq -f '%05g' 0 $((LIST_N - 1)) | F="$WORK/one.txt" U="$S3_DIRECT/$S3_BUCKET/w4" xargs -P 8 -n 250 bash -c '
    a=(); for i; do a+=(-T "$F" "$U/o$i"); done
    curl -sS --fail --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "${a[@]}" >/dev/null' _
  local n
  n=$(list_count w4/)
  [ "$n" = "$LIST_N" ] || { say "w4 setup: $n objects, want $LIST_N"; return 1; }
}
w4() {
  local run=$1 who t0 n t
  say "workload 4: ls -l of $LIST_N objects, run $run"
  for who in $(rotated "$run" $CONTENDERS); do
    settle
    case $who in
      curl)
        # the requests' own time (curl's time_total summed over the pages)
        read -r n t < <(list_timed w4/)
        if [ "$n" = "$LIST_N" ]; then record w4_ls curl "$run" "$t"; else record w4_ls curl "$run" FAIL; fi
        ;;
      curlp) ;;
      *)
        fresh_mount "$who" "w4-r$run" || { record w4_ls "$who" "$run" FAIL; continue; }
        t0=$(now_us)
        n=$(ls -l "$MNT/w4" | grep -c ' o[0-9]')
        if [ "$n" = "$LIST_N" ]; then record w4_ls "$who" "$run" "$(secs "$t0")"; else record w4_ls "$who" "$run" FAIL; fi
        umount_fs "$MNT"
        drop_state
        ;;
    esac
  done
}

# ---------------------------------------------------------------- workload 5
# bucketfs only: kill -9 when half the parts of a closed file are uploaded,
# remount, time until durable and count the part PUTs sent after the remount;
# against the same upload from scratch (close to durable, no kill)
bfs_json() { "$BFS" status --cache-dir "$WD/cache" --json 2>/dev/null; }
json_num() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }
w5() {
  local run=$1 key t0 js done total psize mark puts i
  has bucketfs "$CONTENDERS" && [ "$BFS_WRITES" = 1 ] || return 0
  say "workload 5: resume after kill -9, run $run"
  # from scratch
  key=w5-scratch-r$run.bin
  if fresh_mount bucketfs "w5s-r$run"; then
    if cp "$WORK/src/big.bin" "$MNT/$key"; then
      t0=$(now_us)
      if wait_size "$key" "$BIG_BYTES" && bfs_wait; then record w5_scratch bucketfs "$run" "$(secs "$t0")"; else record w5_scratch bucketfs "$run" FAIL; fi
    else
      record w5_scratch bucketfs "$run" FAIL
    fi
    umount_fs "$MNT"
    drop_state
  fi
  s3_delete "$key"
  # killed at half, resumed
  key=w5-resume-r$run.bin
  fresh_mount bucketfs "w5r-r$run" || { record w5_resume bucketfs "$run" FAIL; return 0; }
  cp "$WORK/src/big.bin" "$MNT/$key" || { record w5_resume bucketfs "$run" FAIL; umount_fs "$MNT"; return 0; }
  done=0 total=0 psize=0
  for ((i = 0; i < 6000; i++)); do
    js=$(bfs_json)
    done=$(json_num parts_done <<<"$js")
    total=$(json_num parts_total <<<"$js")
    psize=$(json_num part_size <<<"$js")
    [ -n "$total" ] && [ "${total:-0}" -gt 0 ] && [ $((done * 2)) -ge "$total" ] && break
    [ -z "$total" ] && [ "$(head_size "$key")" = "$BIG_BYTES" ] && break # finished before we looked
    sleep 0.05
  done
  kill9_fs "$MNT"
  say "  killed at $done/$total parts (part size $psize)"
  record w5_done_at_kill bucketfs "$run" "${done:-0}"
  record w5_parts bucketfs "$run" "${total:-0}"
  mark=$(t_log_mark)
  t0=$(now_us)
  if mount_fs bucketfs "$MNT" "$WD" && wait_size "$key" "$BIG_BYTES" && bfs_wait; then
    record w5_resume bucketfs "$run" "$(secs "$t0")"
  else
    record w5_resume bucketfs "$run" FAIL
  fi
  # answered 200 only: a PUT in flight at the kill is logged (with an error
  # status) when RGW gives up on it, after the mark
  puts=$(t_log_count "$mark" "\"PUT /$S3_BUCKET/$key\\?partNumber=[^\"]*\" 200 ")
  record w5_puts bucketfs "$run" "$puts"
  record w5_resent bucketfs "$run" "$(awk -v n="$puts" -v p="${psize:-0}" 'BEGIN { printf "%.1f", n * p / 1048576 }')"
  umount_fs "$MNT"
  drop_state
  s3_delete "$key"
  reclaim
}

# ---------------------------------------------------------------- workload 6
# peak RSS of each daemon while a HUGE_MIB file is copied in and uploaded
# (workload 1's peak is recorded there). Once per contender: a peak is steady.
w6() {
  local who key rss
  [ -n "$MOUNT_CONTENDERS" ] || return 0
  say "workload 6: peak RSS, ${HUGE_MIB} MiB upload"
  head -c "$HUGE_BYTES" /dev/urandom >"$WORK/src/huge.bin"
  for who in $MOUNT_CONTENDERS; do
    can_write "$who" || continue
    key=w6-$who.bin
    fresh_mount "$who" w6 || { record w6_rss_huge "$who" 1 FAIL; continue; }
    rss_start "$MOUNT_PID" "$WD/rss"
    if cp "$WORK/src/huge.bin" "$MNT/$key" && wait_size "$key" "$HUGE_BYTES"; then
      [ "$who" = bucketfs ] && bfs_wait
      record w6_rss_huge "$who" 1 "$(rss_stop "$WD/rss")"
    else
      rss_stop >/dev/null
      record w6_rss_huge "$who" 1 FAIL
    fi
    umount_fs "$MNT"
    drop_state
    s3_delete "$key"
    reclaim
  done
  rm -f "$WORK/src/huge.bin"
}

# ---------------------------------------------------------------- main
has 2 "$WORKLOADS" && { w2_setup || say "workload 2 setup failed"; }
has 4 "$WORKLOADS" && { w4_setup || say "workload 4 setup failed"; }
# warm-up: one multipart upload of the big file, not recorded and deleted
# again, so that the server's first growth (memstore allocating its memory)
# is not charged to whichever contender goes first in run 1
if has 1 "$WORKLOADS"; then
  say "warm-up: one unrecorded multipart upload of the ${BIG_MIB} MiB file"
  S3_ENDPOINT=$S3_DIRECT "$HERE/mpu-put.sh" "$WORK/src/big.bin" warm-up.bin "$MPU_PART_MIB" "$MPU_JOBS" ||
    say "warm-up upload failed"
  s3_delete warm-up.bin
  reclaim
fi
for ((run = 1; run <= RUNS; run++)); do
  for w in 1 2 3 4 5; do
    has "$w" "$WORKLOADS" && "w$w" "$run"
  done
done
has 6 "$WORKLOADS" && w6

# ---------------------------------------------------------------- report
ELAPSED=$((SECONDS - T_START))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
BFS_VERSION=$("$BFS" --version 2>/dev/null | head -n 1)
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "server=$SERVER"
  echo "store=$([ "$SERVER" = rgw ] && echo "$STORE")"
  echo "net=$NET"
  echo "wan=$WAN_RTT_MS ms rtt, $WAN_MB_PER_S MB/s per connection and direction"
  echo "profile=$PROFILE"
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench/results' 2>/dev/null || echo ' (with local changes)')"
  echo "runs=$RUNS"
  echo "quick=$QUICK"
  echo "big_mib=$BIG_MIB"
  echo "huge_mib=$HUGE_MIB"
  echo "small_n=$SMALL_N"
  echo "list_n=$LIST_N"
  echo "rand_n=$RAND_N"
  echo "mpu=$MPU_PART_MIB MiB parts, $MPU_JOBS at a time"
  echo "bucketfs=${BFS_VERSION:-?}"
  echo "bucketfs_writes=$BFS_WRITES"
  echo "s3fs=$(s3fs --version 2>/dev/null | head -n 1)"
  echo "rclone=$(env -u AWS_CA_BUNDLE rclone version 2>/dev/null | head -n 1)"
  echo "cpu=$(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "load=$LOAD_START at start, $LOAD_END at end"
  echo "elapsed=$ELAPSED"
} >"$WORK/meta"
"$HERE/report.sh" "$RAW" "$WORK/meta" "$OUT/$PROFILE.md" "$OUT/$PROFILE.png" || exit 1
cat "$OUT/$PROFILE.md"
"$HERE/report.sh" --collect "$OUT" >"$OUT/latest.md.tmp" && mv "$OUT/latest.md.tmp" "$OUT/latest.md"
say "done in ${ELAPSED} s; results in $OUT/$PROFILE.md (.png, .tsv); all profiles in $OUT/latest.md"
