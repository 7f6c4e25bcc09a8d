# shellcheck shell=bash
# lib.sh - helpers for bench/run.sh: clocks, the three mounts (bucketfs, s3fs,
# rclone) started in the foreground by recorded PID, RSS sampling, bucket
# polling with curl, and the raw results file.
#
# Needs tests/lib/common.sh sourced first (s3curl, s3_query, t_cleanup_push).
# Every mount goes into MOUNTS[mountpoint]=pid; bench_cleanup (pushed once on
# the cleanup stack by run.sh) unmounts and stops whatever is still there, so
# an error, Ctrl-C or a kill of run.sh leaves no mount or daemon behind.

declare -gA MOUNTS=()

# --- clocks: microseconds from EPOCHREALTIME (LC_ALL=C keeps its '.') ---
now_us() {
  local t=$EPOCHREALTIME
  echo "${t/./}"
}
# secs START_US [END_US]: elapsed seconds with 3 decimals
secs() {
  local e=${2:-$(now_us)}
  local d=$((e - $1))
  printf '%d.%03d' $((d / 1000000)) $(((d % 1000000) / 1000))
}

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# record METRIC CONTENDER RUN VALUE: one raw result (VALUE "FAIL" on failure)
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"
  say "  $1 $2 run $3: $4"
}

# --- daemons ---
# proc_done PID: the process is gone or a zombie (then reaped)
proc_done() {
  if [ ! -e "/proc/$1" ] || awk '/^State:/{exit !($2=="Z")}' "/proc/$1/status" 2>/dev/null; then
    wait "$1" 2>/dev/null || true
    return 0
  fi
  return 1
}
# wait_gone PID TENTHS: wait up to TENTHS/10 s for PID to end
wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    proc_done "$1" && return 0
    sleep 0.1
  done
  proc_done "$1"
}
# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (0 if gone)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# --- where the machine's CPU goes (workloads 1 and 2, every contender) ---
# On two cores shared by the server, the client and the kernel, a contender's
# time is bounded below by all the CPU its run makes the machine spend; these
# counters show that bound next to each time.
# machine_ticks: "BUSY STEAL" clock ticks summed over all cores so far. Busy
# is user + nice + system + irq + softirq: every process, the kernel's own
# threads (writeback) and interrupts. Steal is time the hypervisor ran
# another guest on our cores: work we could not do, and not ours.
machine_ticks() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8, $9; exit }' /proc/stat; }
# group_ticks PID...: user + system CPU of these processes so far, in ticks
group_ticks() {
  local p s=0
  for p in "$@"; do s=$((s + $(cpu_ticks "$p"))); done
  echo "$s"
}
# cpu_mark: remember the machine's counters and the server's (SERVER_PIDS:
# the server's daemons and, on the wan profile, the relay)
cpu_mark() {
  # shellcheck disable=SC2086 # a list of PIDs
  CPU_MARK="$(machine_ticks) $(group_ticks $SERVER_PIDS)"
}
# cpu_record W WHO RUN START_US: record since cpu_mark, per GiB moved, the
# core-seconds of the whole machine (W_mcpu) and of the server (W_scpu), and
# over the wall time, the share of all cores busy (W_busy) and stolen
# (W_steal), in percent
cpu_record() {
  local w=$1 who=$2 run=$3 wall b0 st0 sv0 b1 st1 sv1 hz cores gib
  wall=$(secs "$4")
  # shellcheck disable=SC2086 # a list of PIDs
  read -r b0 st0 sv0 b1 st1 sv1 <<<"$CPU_MARK $(machine_ticks) $(group_ticks $SERVER_PIDS)"
  hz=$(getconf CLK_TCK) cores=$(nproc) gib=$(awk -v m="$BIG_MIB" 'BEGIN { print m / 1024 }')
  record "${w}_mcpu" "$who" "$run" "$(ticks_per_gib $((b1 - b0)) "$hz" "$gib")"
  record "${w}_scpu" "$who" "$run" "$(ticks_per_gib $((sv1 - sv0)) "$hz" "$gib")"
  record "${w}_busy" "$who" "$run" "$(ticks_share $((b1 - b0)) "$hz" "$cores" "$wall")"
  record "${w}_steal" "$who" "$run" "$(ticks_share $((st1 - st0)) "$hz" "$cores" "$wall")"
}
# ticks_per_gib TICKS HZ GIB: core-seconds per GiB
ticks_per_gib() { awk -v d="$1" -v hz="$2" -v g="$3" 'BEGIN { printf "%.2f", d / hz / g }'; }
# ticks_share TICKS HZ CORES SECONDS: percent of the cores' time over SECONDS
ticks_share() { awk -v d="$1" -v hz="$2" -v c="$3" -v t="$4" 'BEGIN { printf "%.0f", (t > 0 ? 100 * d / hz / c / t : 0) }'; }

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

# mount_fs WHO MNT WORKDIR: mount one contender in the foreground, in the
# background of this shell; sets MOUNT_PID. Status 1 if it is not up in 60 s.
mount_fs() {
  local who=$1 mnt=$2 wd=$3 log i
  mkdir -p "$mnt" "$wd"
  log=$wd/$who.log
  case $who in
    bucketfs)
      "$BFS" "$S3_BUCKET" "$mnt" -f \
        -o "endpoint=$S3_ENDPOINT,passwd_file=$PASSWD,cache_dir=$wd/cache${BFS_OPTS:+,$BFS_OPTS}" \
        </dev/null >>"$log" 2>&1 &
      ;;
    s3fs)
      s3fs "$S3_BUCKET" "$mnt" -f \
        -o "use_path_request_style,url=$S3_ENDPOINT,passwd_file=$PASSWD${S3FS_OPTS:+,$S3FS_OPTS}" \
        </dev/null >>"$log" 2>&1 &
      ;;
    rclone)
      # rclone 1.60 refuses to start when AWS_CA_BUNDLE is set (unsupported transport)
      env -u AWS_CA_BUNDLE rclone --config "$RCLONE_CONF" mount "bench:$S3_BUCKET" "$mnt" \
        --vfs-cache-mode writes --vfs-write-back 0s --cache-dir "$wd/rclone-cache" \
        </dev/null >>"$log" 2>&1 &
      ;;
    *)
      say "mount_fs: unknown contender $who"
      return 2
      ;;
  esac
  MOUNT_PID=$!
  disown "$MOUNT_PID" # bash still reaps it; no "Killed" job notice after a kill -9
  MOUNTS[$mnt]=$MOUNT_PID
  for ((i = 0; i < 600; i++)); do
    is_mounted "$mnt" && return 0
    if proc_done "$MOUNT_PID"; then
      say "$who exited before mounting; last log lines:"
      tail -n 5 "$log" >&2
      unset "MOUNTS[$mnt]"
      return 1
    fi
    sleep 0.1
  done
  say "$who not mounted after 60 s"
  umount_fs "$mnt"
  return 1
}

# umount_fs MNT: unmount and wait for the daemon to exit (TERM, then KILL by
# its recorded PID if it hangs); a lazy unmount clears a dead daemon's mount.
umount_fs() {
  local mnt=$1 pid=${MOUNTS[$1]:-} i
  for ((i = 0; i < 50; i++)); do
    is_mounted "$mnt" || break
    fusermount3 -u "$mnt" 2>/dev/null && break
    sleep 0.2
  done
  if [ -n "$pid" ]; then
    if ! wait_gone "$pid" 600; then
      say "daemon $pid on $mnt still running after unmount; SIGTERM"
      kill -TERM "$pid" 2>/dev/null
      wait_gone "$pid" 100 || {
        kill -KILL "$pid" 2>/dev/null
        wait_gone "$pid" 50
      }
    fi
  fi
  is_mounted "$mnt" && fusermount3 -u -z "$mnt" 2>/dev/null
  unset "MOUNTS[$mnt]"
  return 0
}

# kill9_fs MNT: the crash case: SIGKILL the daemon, lazily detach its mount
kill9_fs() {
  local mnt=$1 pid=${MOUNTS[$1]:-}
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait_gone "$pid" 50
  fusermount3 -u -z "$mnt" 2>/dev/null
  unset "MOUNTS[$mnt]"
}

bench_cleanup() {
  local m
  rss_stop >/dev/null 2>&1
  for m in "${!MOUNTS[@]}"; do umount_fs "$m"; done
}

# --- peak RSS of a daemon: sample VmRSS and VmHWM every 0.1 s ---
RSS_SAMPLER=
# rss_start PID FILE: FILE ends up holding the peak in KiB
rss_start() {
  echo 0 >"$2"
  (
    peak=0
    while [ -r "/proc/$1/status" ]; do
      v=$(awk '/^Vm(RSS|HWM):/ { if ($2 > m) m = $2 } END { print m + 0 }' "/proc/$1/status" 2>/dev/null)
      if [ "${v:-0}" -gt "$peak" ]; then
        peak=$v
        echo "$peak" >"$2"
      fi
      sleep 0.1
    done
  ) &
  RSS_SAMPLER=$!
}
# rss_stop FILE: stop the sampler; prints the peak in MiB (one decimal)
rss_stop() {
  if [ -n "$RSS_SAMPLER" ]; then
    kill "$RSS_SAMPLER" 2>/dev/null
    wait "$RSS_SAMPLER" 2>/dev/null
    RSS_SAMPLER=
  fi
  [ -n "${1:-}" ] && awk '{ printf "%.1f", $1 / 1024 }' "$1"
}

# stop_pid PID: SIGTERM a helper this script started (the wan relay), SIGKILL after 5 s
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  wait_gone "$1" 50 || { kill -KILL "$1" 2>/dev/null; wait_gone "$1" 20; }
}

# --- the bucket, seen through curl ---
# The bench's own checks go to S3_DIRECT, the server itself: on the wan
# profile only the contenders pay for the link.
# head_size KEY: the object's Content-Length, or nothing
head_size() {
  S3_ENDPOINT=${S3_DIRECT:-$S3_ENDPOINT} S3_QUERY='' S3_CURL_TIMEOUT=10 s3curl HEAD "$1" 2>/dev/null |
    tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }' | tail -n 1
}
# wait_size KEY SIZE [TIMEOUT_S]: poll HEAD until the object has SIZE bytes
wait_size() {
  local deadline=$((SECONDS + ${3:-900}))
  while [ "$(head_size "$1")" != "$2" ]; do
    [ $SECONDS -lt "$deadline" ] || return 1
    sleep 0.05
  done
}
# list_page PREFIX [TOKEN]: one ListObjectsV2 page (1000 keys) on stdout
list_page() {
  local q=(list-type=2 max-keys=1000 "prefix=$1")
  [ -n "${2:-}" ] && q+=("continuation-token=$2")
  S3_ENDPOINT=${S3_DIRECT:-$S3_ENDPOINT} S3_QUERY=$(s3_query "${q[@]}") s3curl GET ""
}
# list_timed PREFIX: "KEYS SECONDS" for all pages of PREFIX, SECONDS the sum
# of curl's own time_total per page (the requests alone: no process start,
# no parsing), i.e. the paginated listing at its physical limit. That limit
# is one kept-alive connection: behind the wan relay (BENCH_NET=wan), which
# charges each new connection one round trip for its handshake, the pages
# after the first are counted without it (HANDSHAKE_S, 0 on loopback).
list_timed() {
  local token='' n=0 page q total=0 t hs=0
  while :; do
    q=(list-type=2 max-keys=1000 "prefix=$1")
    [ -n "$token" ] && q+=("continuation-token=$token")
    page=$(S3_QUERY=$(s3_query "${q[@]}") s3curl GET "" -w '\n@time_total=%{time_total}') || return 1
    t=$(sed -n 's/^@time_total=//p' <<<"$page")
    total=$(awk -v a="$total" -v b="$t" -v h="$hs" 'BEGIN { printf "%.6f", a + b - h }')
    hs=${HANDSHAKE_S:-0}
    n=$((n + $(grep -o "<Key>[^<]*</Key>" <<<"$page" | wc -l)))
    token=$(grep -o '<NextContinuationToken>[^<]*' <<<"$page" | cut -d'>' -f2)
    [ -n "$token" ] || break
  done
  printf '%s %.3f\n' "$n" "$total"
}
# list_count PREFIX [SUFFIX]: keys under PREFIX (ending in SUFFIX), all pages
list_count() {
  local token='' n=0 page
  while :; do
    page=$(list_page "$1" "$token") || return 1
    n=$((n + $(grep -o "<Key>[^<]*${2:-}</Key>" <<<"$page" | wc -l)))
    token=$(grep -o '<NextContinuationToken>[^<]*' <<<"$page" | cut -d'>' -f2)
    [ -n "$token" ] || break
  done
  echo "$n"
}
# wait_count PREFIX SUFFIX N [TIMEOUT_S]: poll the listing until N keys
wait_count() {
  local deadline=$((SECONDS + ${4:-900}))
  while [ "$(list_count "$1" "$2")" != "$3" ]; do
    [ $SECONDS -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
# s3_delete KEY: delete an object (ignore errors)
s3_delete() { S3_ENDPOINT=${S3_DIRECT:-$S3_ENDPOINT} S3_QUERY='' s3curl DELETE "$1" -o /dev/null 2>/dev/null || true; }

# reclaim: on RGW, let garbage collection free deleted objects' space now
# (RGW keeps it for rgw_gc_obj_min_wait, 2 h, by default)
# settle: wait (at most 30 s) until the server's processes use less than 10%
# of a core, so a contender does not pay for the previous one's writes still
# being digested (bluestore flushes and compaction after a large upload);
# first, write back every dirty page (the source files just made, a previous
# mount's cache files), so that no contender's writes and fsyncs queue
# behind disk writeback it did not cause
settle() {
  local pids=() f i t0 t1 start=$SECONDS
  sync
  [ -n "${S3_DIR:-}" ] || return 0
  for f in "$S3_DIR"/run/*.pid; do [ -r "$f" ] && pids+=("$(cat "$f")"); done
  [ ${#pids[@]} -gt 0 ] || return 0
  server_ticks() { for i in "${pids[@]}"; do awk '{ s += $14 + $15 } END { print s + 0 }' "/proc/$i/stat" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'; }
  while [ $((SECONDS - start)) -lt 30 ]; do
    t0=$(server_ticks)
    sleep 1
    t1=$(server_ticks)
    [ $((t1 - t0)) -lt "$(($(getconf CLK_TCK) / 10))" ] && return 0
  done
}
# rotated RUN WORDS...: WORDS rotated left by RUN-1, so that over the runs
# every contender also goes first and last
rotated() {
  local run=$1
  shift
  local words=("$@") n=$# i out=()
  for ((i = 0; i < n; i++)); do out+=("${words[$(((i + run - 1) % n))]}"); done
  echo "${out[@]}"
}

reclaim() {
  [ "$S3_SERVER" = rgw ] || return 0
  timeout 300 radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin gc process --include-all \
    >/dev/null 2>&1 || true
}
