#!/usr/bin/env bash
# campaign.sh - randomized crash campaign (issue 5): bucketfs's promise is that
# a file whose close(2) returned is never lost, whatever kills the daemon.
#
# Each trial, under its own key prefix s<SEED>/ and its own seed:
#   1. mount (random part_size 5|6 MiB, upload_concurrency 1|2|4|8; the
#      remount draws again, so resume meets a different configuration);
#   2. a random mix of 3-10 operations through the mount, back to back so most
#      hit pending files: create (cp of a local file of 0 B..20 MiB), overwrite
#      (a second version), append, rename (to a new name or over a live one,
#      within or across directories), delete; a local model keeps, per final
#      key, the bytes of the last CLOSED version (and the earlier ones, to tell
#      a stale object from a torn one); half the trials end on a 5-20 MiB file;
#   3. the kill, one of:
#      - inside an operation (about 3/4 of the trials, inside close in half):
#        the daemon runs with BUCKETFS_CRASH_AT (util/crashpoint.hpp) naming a
#        step of close ("close.*"), rename, unlink or upload completion and a
#        random hit count, and SIGKILLs itself there. The operation it
#        interrupts had not returned: its name may hold the version before it
#        or after it (a rename: the file under either name, or both with the
#        same bytes; never under neither). Operations stop there;
#      - kill -9 0-3 s after the last close (two thirds in the first 500 ms; no
#        write in progress; uploads are queued, between parts or completing;
#        the moment is classified from the dead daemon's store with
#        `bucketfs status --json`);
#      - while a write of one more file is in progress and never closed (by one
#        process that never closes any copy of the descriptor: every close
#        sends FUSE a flush, which counts as a close); that key must then be
#        absent or equal to its previous closed version;
#   4. fusermount3 -u -z, remount, `bucketfs status --wait --timeout 120`,
#      clean unmount;
#   5. the checker, through curl --aws-sigv4 only: every model key present and
#      byte-identical (cmp; an earlier closed version counts as stale), no
#      other key under the prefix (deleted and renamed-away names, never-closed
#      files, partial objects), nothing left pending or failed. Then the
#      trial's keys are deleted.
# The cache dir is shared by all trials, so each mount also resumes over the
# previous trials' leftovers. A multipart upload left open under the trial's
# prefix fails the trial (issue 13: also after a kill while parts of an open
# file were being sent); staging files left behind are warnings (they leak
# space but lose nothing).
#
# Env: TRIALS (30), SEED (base seed; trial i uses SEED+i; default random),
#      SERVER (rgw|s3rver; default rgw), KILL_MAX_MS (3000),
#      CAMPAIGN_KEEP_LOGS (dir: copy the mount logs of failing trials there).
# Replay a trial: SEED=<its seed> TRIALS=1 SERVER=... tests/crash/campaign.sh
# Last line: "N passed, N failed" (one test per trial).
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

TRIALS=${TRIALS:-30}
SEED=${SEED:-$(((RANDOM << 15 | RANDOM) % 1000000000))}
SERVER=${SERVER:-rgw}
KILL_MAX_MS=${KILL_MAX_MS:-3000}
BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v perl >/dev/null || t_abort "perl missing (it holds the never-closed file open)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
command -v openssl >/dev/null || t_abort "openssl missing (the file contents come from its AES-CTR stream)"
with_server "$SERVER" || t_abort "cannot start $SERVER"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh" # credentials file and m_sigv

# a copy, so that a rebuild during a long soak does not swap the binary mid-trial
cp "$BIN" "$T_TMP/bucketfs" || t_abort "cannot copy $BIN"
BIN=$T_TMP/bucketfs
MNT=$T_TMP/mnt
W=$T_TMP/work
CACHE=$T_TMP/cache
MIB=1048576
mkdir -p "$MNT" "$W"

# --- the one daemon and the one in-progress writer we own (pids, not names) ---
DPID=
WPID=
c_cleanup() {
  [ -z "$WPID" ] || kill -KILL "$WPID" 2>/dev/null
  if m_is_mounted "$MNT"; then fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null; fi
  if [ -n "$DPID" ] && ! c_wait_exit "$DPID" 100; then
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
  fi
  DPID=
  WPID=
}
t_cleanup_push c_cleanup
# c_wait_exit PID TENTHS: wait up to TENTHS/10 s for our child PID to exit
c_wait_exit() {
  local i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
    sleep 0.1
  done
  return 1
}

# --- deterministic randomness: R gets a value in [0, N) (no subshells: they reseed) ---
rnd() { R=$((((RANDOM << 15) | RANDOM) % $1)); }
# gen FILE SIZE TAG: SIZE bytes of AES-CTR keystream keyed by the trial seed and TAG
gen() {
  openssl enc -aes-128-ctr -nosalt -pbkdf2 -iter 1 -pass "pass:$TSEED.$3" </dev/zero 2>/dev/null |
    head -c "$2" >"$1"
}
# secs T0 T1: T1 - T0 ($EPOCHREALTIME values) as seconds with one decimal
secs() {
  local a=${1/./} b=${2/./}
  a=$((10#$a / 100000)) b=$((10#$b / 100000))
  printf '%d.%d' $(((b - a) / 10)) $(((b - a) % 10))
}
# nap MS: sleep MS milliseconds
nap() { local s; printf -v s '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); sleep "$s"; }
# pick_size: R = a file size, 10% 0 B, 30% <64 KiB, 30% <5 MiB, 30% 5-20 MiB
pick_size() {
  local c
  rnd 10
  c=$R
  if ((c == 0)); then R=0
  elif ((c <= 3)); then rnd 65536; R=$((R + 1))
  elif ((c <= 6)); then rnd $((5 * MIB - 65536)); R=$((R + 65536))
  else rnd $((15 * MIB)); R=$((R + 5 * MIB)); fi
}

# --- mount / kill / unmount ---
# c_mount [CRASH_SPEC]: with a spec, the daemon kills itself at that crash point
c_mount() {
  local ps conc i crash=()
  rnd 2; ps=$((5 + R))
  rnd 5; conc=$((R == 0 ? 1 : 1 << (R - 1))) # 1 1 2 4 8: few workers, more kills between parts
  MOUNT_DESC="part_size=$ps conc=$conc"
  if [ -n "${1:-}" ]; then
    rm -f "$T_TMP/crash.note"
    crash=(env "BUCKETFS_CRASH_AT=$1" "BUCKETFS_CRASH_NOTE=$T_TMP/crash.note")
    MOUNT_DESC+=" crash_at=$1"
  fi
  "${crash[@]}" "$BIN" "$S3_BUCKET" "$MNT" -f -o "url=$S3_ENDPOINT,region=$S3_REGION,sigv=$(m_sigv),passwd_file=$T_TMP/passwd,cache_dir=$CACHE,part_size=$ps,upload_concurrency=$conc" \
    >>"$TLOG" 2>&1 &
  DPID=$!
  for i in $(seq 1 100); do
    m_is_mounted "$MNT" && return 0
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.2
  done
  echo "  mount did not appear; log:"
  tail -n 5 "$TLOG" | sed 's/^/    /'
  c_cleanup
  return 1
}
c_kill9() {
  kill -KILL "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
  DPID=
  fusermount3 -u -z "$MNT" 2>/dev/null
  # only now may the in-progress writer go: its close reaches no daemon
  if [ -n "$WPID" ]; then
    kill -KILL "$WPID" 2>/dev/null
    wait "$WPID" 2>/dev/null
    WPID=
  fi
}
c_umount() {
  fusermount3 -u "$MNT" 2>/dev/null
  if c_wait_exit "$DPID" 600; then DPID=; return 0; fi
  echo "  daemon still running 60 s after fusermount3 -u"
  c_cleanup
  return 1
}

# --- bucket side ---
# keys_under PREFIX: every key under PREFIX (all listing pages), one a line
keys_under() {
  local tok='' body q
  while :; do
    q=(list-type=2 "prefix=$1" max-keys=1000)
    [ -n "$tok" ] && q+=("continuation-token=$tok")
    body=$(S3_QUERY=$(s3_query "${q[@]}") s3curl GET "") || return 1
    [[ $body == *"<ListBucketResult"* ]] || { echo "LIST-ERROR"; return 1; }
    grep -o '<Key>[^<]*</Key>' <<<"$body" | sed 's/<Key>//; s/<\/Key>//; s/&amp;/\&/g'
    [[ $body == *"<IsTruncated>true</IsTruncated>"* ]] || return 0
    tok=$(grep -o '<NextContinuationToken>[^<]*' <<<"$body" | sed 's/.*>//')
    [ -n "$tok" ] || return 0
  done
}
# uploads_under PREFIX: number of multipart uploads in progress under PREFIX ("?" if unknown)
uploads_under() {
  local body
  body=$(S3_QUERY=$(s3_query uploads "prefix=$1") s3curl GET "" 2>/dev/null)
  if [[ $body == *"<ListMultipartUploadsResult"* ]]; then
    grep -o '<UploadId>' <<<"$body" | wc -l
  else echo "?"; fi
}
# s3_many METHOD ARGS...: one curl process for many requests (curl start-up is
# the slow part on a loaded machine); ARGS are curl's, e.g. -o FILE URL pairs.
# Prints one HTTP status a line, in order.
s3_many() {
  local method=$1
  shift
  curl -sS --max-time 300 -X "$method" --aws-sigv4 "aws:amz:${S3_REGION}:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    -w '%{http_code}\n' "$@"
}
staging_count() { find "$CACHE" -path '*/staging/*' -type f 2>/dev/null | wc -l; }

# --- totals ---
TOT_FILES=0 TOT_LOST=0 TOT_CORRUPT=0 TOT_STALE=0 TOT_EXTRA=0 TOT_OPS=0 TOT_LEAK_STAGING=0 TOT_LEAK_UPLOADS=0
TOT_MIDWRITE_PREV_GONE=0
declare -A MOMENTS=()
declare -A CRASHPOINTS=() # crash point -> kills there
FAILED_SEEDS=()

# ============================ one trial ============================
# run_trial IDX: sets TRIAL_OK (1/0); prints its lines
run_trial() {
  local idx=$1 P D ops nops op name src extra dst n_live i msg delay kill_desc mode
  local -A MODEL=() # name -> model file (bytes of the last closed version)
  local -A ALT=()   # name -> further acceptable contents after an interrupted operation ("-": absent)
  local JOINT=''    # "A B FILE": after an interrupted rename, A or B must hold FILE
  local -a LIVE=()
  local mid='' mid_prev='' mid_desc=''
  TSEED=$((SEED + idx))
  RANDOM=$TSEED
  P="s$TSEED/"
  D=$MNT/s$TSEED
  TLOG=$T_TMP/trial.log
  : >"$TLOG"
  MOUNT_DESC=
  TRIAL_OK=1 TRIAL_WHY=
  local M=$W/model nextname=1 gen_n=0 errs=0 op_list=''
  rm -rf "$W" && mkdir -p "$M" "$M/sub"
  local staging_before
  staging_before=$(staging_count)

  echo "--- trial $((idx + 1))/$TRIALS seed=$TSEED prefix=$P"
  rnd 8; nops=$((3 + R))
  # half the trials end on a large file, so that the kill meets a multipart upload
  local big_last=0
  rnd 2; ((R == 0)) && big_last=1
  # where the kill comes from: a crash point inside an operation (close in 40%
  # of the trials), or a kill -9 from outside (timed, or during a write)
  local crash_spec='' kill_mode=outside
  rnd 100
  # (a close passes 4 crash points; about 70% of the operations close a file)
  if ((R < 50)); then rnd $((2 * nops)); crash_spec="close.*:$((R + 1))"; kill_mode=close
  elif ((R < 58)); then rnd 2; crash_spec="rename.*:$((R + 1))"; kill_mode=rename
  elif ((R < 63)); then crash_spec="unlink.*:1"; kill_mode=unlink
  elif ((R < 73)); then rnd $((2 * nops)); crash_spec="complete.*:$((R + 1))"; kill_mode=complete
  elif ((R < 76)); then rnd 2; crash_spec="upload.created:$((R + 1))"; kill_mode=complete
  fi
  local t0=$EPOCHREALTIME tw tk tr
  c_mount "$crash_spec" || { TRIAL_OK=0; TRIAL_WHY="mount failed"; return; }
  mkdir -p "$D/sub" || { TRIAL_OK=0; TRIAL_WHY="mkdir failed"; c_cleanup; return; }

  # live names (model keys), kept in LIVE for random picks
  live_refresh() { LIVE=("${!MODEL[@]}"); }
  new_name() { rnd 3; if ((R == 0)); then name="sub/f$nextname"; else name="f$nextname"; fi; nextname=$((nextname + 1)); }
  # run_op DESC CMD...: OP_OK=1 if it succeeded; a failure fails the trial
  # unless the daemon died inside it (a crash point: the operation was
  # interrupted and had not returned)
  run_op() {
    op_list+="${op_list:+, }$1"
    shift
    OP_OK=1
    if ! msg=$("$@" 2>&1); then
      OP_OK=0
      if ! crashed; then
        errs=$((errs + 1))
        echo "  op failed: $op_list: $msg"
      fi
    fi
  }
  # whether the crash point fired (it notes its name before the SIGKILL; the
  # dead daemon stays a zombie until waited for, so kill -0 cannot tell)
  crashed() { [ -n "$crash_spec" ] && [ -s "$T_TMP/crash.note" ]; }
  # an interrupted operation leaves a name with its version before or after:
  # ALT[name] lists further acceptable contents, "-" standing for absent
  allow() { ALT[$1]="${ALT[$1]:-} $2"; }

  # earlier closed versions of a key, to tell a stale object from a torn one
  keep_old() { [ -f "$M/$1" ] && cp "$M/$1" "$W/old/${1//\//%}.$gen_n"; }
  mkdir -p "$W/old"
  local interrupted=''
  for ((ops = 0; ops < nops; ops++)); do
    live_refresh
    n_live=${#LIVE[@]}
    rnd 100; op=$R
    if ((big_last)) && ((ops == nops - 1)); then op=create; BIG=1
    elif ((n_live == 0)) || ((op < 35)); then op=create
    elif ((op < 52)); then op=overwrite
    elif ((op < 69)); then op=append
    elif ((op < 86)); then op=rename
    else op=delete; fi
    case $op in
      create | overwrite)
        if [ "$op" = create ]; then new_name; else rnd "$n_live"; name=${LIVE[R]}; fi
        pick_size
        if [ -n "${BIG:-}" ]; then rnd $((15 * MIB)); R=$((R + 5 * MIB + 1)); BIG=; fi
        gen_n=$((gen_n + 1))
        src=$W/src.$gen_n
        gen "$src" "$R" "$gen_n"
        run_op "$op $name ($R B)" cp "$src" "$D/$name"
        keep_old "$name"
        if ((OP_OK)); then
          mv "$src" "$M/$name"
          MODEL[$name]=1
        else
          mv "$src" "$W/alt.$gen_n"
          allow "$name" "$W/alt.$gen_n"
          interrupted="$op $name"
        fi
        ;;
      append)
        rnd "$n_live"; name=${LIVE[R]}
        rnd 4
        if ((R == 0)); then rnd $((6 * MIB)); else rnd 65536; fi
        gen_n=$((gen_n + 1))
        extra=$W/src.$gen_n
        gen "$extra" "$((R + 1))" "$gen_n"
        run_op "append $name (+$((R + 1)) B)" sh -c 'cat "$1" >>"$2"' _ "$extra" "$D/$name"
        keep_old "$name"
        if ((OP_OK)); then
          cat "$extra" >>"$M/$name"
        else
          cat "$M/$name" "$extra" >"$W/alt.$gen_n"
          allow "$name" "$W/alt.$gen_n"
          interrupted="append $name"
        fi
        rm -f "$extra"
        ;;
      rename)
        rnd "$n_live"; i=$R
        name=${LIVE[i]}
        rnd 10
        if ((R < 3)) && ((n_live > 1)); then # over another live file
          rnd $((n_live - 1))
          ((R >= i)) && R=$((R + 1))
          dst=${LIVE[R]}
        else
          new_name; dst=$name; name=${LIVE[i]}
        fi
        run_op "rename $name -> $dst" mv "$D/$name" "$D/$dst"
        if ((OP_OK)); then
          mv "$M/$name" "$M/$dst"
          unset "MODEL[$name]"
          MODEL[$dst]=1
        else
          # before: both as they were; after: only dst, with name's bytes; in
          # between (a server-side copy done, its delete not): both, with
          # name's bytes. Never neither.
          gen_n=$((gen_n + 1))
          cp "$M/$name" "$W/alt.$gen_n"
          allow "$name" -
          allow "$dst" "$W/alt.$gen_n"
          JOINT="$name $dst $W/alt.$gen_n"
          interrupted="rename $name -> $dst"
        fi
        ;;
      delete)
        rnd "$n_live"; name=${LIVE[R]}
        run_op "delete $name" rm "$D/$name"
        if ((OP_OK)); then
          rm -f "$M/$name"
          unset "MODEL[$name]"
        else
          allow "$name" -
          interrupted="delete $name"
        fi
        ;;
    esac
    # a crash point fired (inside this operation or in the background): stop
    if crashed; then
      ops=$((ops + 1))
      break
    fi
    # mostly back to back (pending), sometimes a pause so uploads finish first
    rnd 10
    if ((R >= 7)); then rnd 600; nap "$R"; fi
  done
  TOT_OPS=$((TOT_OPS + ops))
  tw=$EPOCHREALTIME

  # --- the kill ---
  if [ -n "$crash_spec" ]; then
    # a completion may still be coming: give the crash point a moment to fire
    for ((i = 0; i < 30; i++)); do crashed && break; sleep 0.1; done
  fi
  local fired=''
  [ -n "$crash_spec" ] && [ -f "$T_TMP/crash.note" ] && fired=$(head -n 1 "$T_TMP/crash.note")
  if [ -n "$fired" ]; then
    kill_desc="SIGKILL at crash point $fired${interrupted:+, inside \"$interrupted\"}"
    MOMENT="in-$kill_mode"
    CRASHPOINTS[$fired]=$((${CRASHPOINTS[$fired]:-0} + 1))
    KILLS_INSIDE=$((${KILLS_INSIDE:-0} + 1))
  else
    rnd 4
  fi
  if [ -n "$fired" ]; then
    :
  elif ((R == 0)); then
    # a write that is in progress and never closed
    live_refresh
    rnd 2
    if ((R == 0)) && ((${#LIVE[@]} > 0)); then rnd ${#LIVE[@]}; mid=${LIVE[R]}; mid_prev=$M/$mid; else new_name; mid=$name; fi
    pick_size
    local wsize=$((R + 1)) marker=$W/written
    gen_n=$((gen_n + 1))
    src=$W/src.$gen_n
    gen "$src" "$wsize" "$gen_n"
    rm -f "$marker"
    # one process opens (O_TRUNC), writes and keeps the file open: no close(2)
    # of any copy of the descriptor, since every close sends FUSE a flush,
    # which is a close as far as the promise goes
    perl -e 'open(my $in, "<", $ARGV[1]) or die; open(my $out, ">", $ARGV[0]) or die;
      binmode $in; binmode $out; my $b;
      while (my $n = sysread($in, $b, 1 << 20)) { defined(syswrite($out, $b)) or die; }
      open(my $m, ">", $ARGV[2]); close $m; sleep 300;' "$D/$mid" "$src" "$marker" 2>/dev/null &
    WPID=$!
    rnd 2
    if ((R == 0)); then
      mode="during staging"
      rnd 300; nap "$R"
    else
      mode="write done, file open"
      for ((i = 0; i < 300; i++)); do [ -e "$marker" ] && break; sleep 0.1; done
      rnd 1000; nap "$R"
    fi
    [ -e "$marker" ] && mode+=" (all $wsize B written)" || mode+=" (of $wsize B)"
    mid_desc="${mid_prev:+over existing }$mid"
    kill_desc="mid-write of $mid_desc, $mode"
    MOMENT=write-in-progress
  else
    # 0-KILL_MAX_MS, two thirds of them in the first 500 ms where uploads run
    rnd 3
    if ((R == 0)) || ((KILL_MAX_MS < 500)); then rnd $((KILL_MAX_MS + 1)); else rnd 501; fi
    delay=$R
    nap "$delay"
    printf -v kill_desc '%d.%03d s after the last close' $((delay / 1000)) $((delay % 1000))
  fi
  if [ -n "$fired" ]; then
    :  # it died where it was told to
  elif [ -n "$crash_spec" ] && [ -f "$T_TMP/crash.note" ]; then
    # the crash point fired in the background before the kill (an upload
    # step, e.g. of a file being written: uploads begin while it is open):
    # a kill like any other, with the writer's file still unclosed
    fired=$(head -n 1 "$T_TMP/crash.note")
    kill_desc="SIGKILL at crash point $fired during: $kill_desc"
    CRASHPOINTS[$fired]=$((${CRASHPOINTS[$fired]:-0} + 1))
  elif ! kill -0 "$DPID" 2>/dev/null || ! m_is_mounted "$MNT"; then
    # the operations may then have gone to the bare directory: nothing to check
    echo "  the daemon died (or the mount vanished) before the kill; log:"
    tail -n 25 "$TLOG" | sed 's/^/    /'
    c_cleanup
    TRIAL_OK=0 TRIAL_WHY="daemon gone before the kill"
    return
  fi
  c_kill9
  tk=$EPOCHREALTIME
  # what was pending at the kill, read from the store of the dead daemon
  local snap pend=''
  snap=$("$BIN" status --cache-dir "$CACHE" --json 2>/dev/null)
  pend=$(grep -o '"key":"[^"]*","size":[0-9]*,"bytes_done":[0-9]*,"parts_done":[0-9]*,"parts_total":[0-9]*,"part_size":[0-9]*,"state":"[a-z]*"' <<<"$snap" |
    sed -E 's/"key":"([^"]*)".*"parts_done":([0-9]*),"parts_total":([0-9]*).*"state":"([a-z]*)"/\1 \2\/\3 \4/')
  if [ -z "${MOMENT:-}" ]; then
    if [ -z "$pend" ]; then MOMENT=after-uploads
    elif grep -qE ' completing$| ([1-9][0-9]*)/\1 ' <<<"$pend"; then MOMENT=during-complete
    elif grep -qE ' [1-9][0-9]*/[0-9]+ ' <<<"$pend"; then MOMENT=between-parts
    else MOMENT=before-parts; fi
  fi
  MOMENTS[$MOMENT]=$((${MOMENTS[$MOMENT]:-0} + 1))
  echo "  ops: $op_list"
  echo "  mount: $MOUNT_DESC"
  echo "  kill -9: $kill_desc [$MOMENT]; pending at kill: $(if [ -n "$pend" ]; then grep -c . <<<"$pend"; else echo 0; fi)${pend:+ ($(tr '\n' ';' <<<"$pend" | sed 's/;$//; s/;/; /g'))}"

  # --- recover ---
  c_mount || { TRIAL_OK=0; TRIAL_WHY="remount failed"; return; }
  local st_rc st_json
  st_json=$("$BIN" status --cache-dir "$CACHE" --wait --timeout 120 --json 2>&1)
  st_rc=$?
  c_umount || { TRIAL_OK=0; TRIAL_WHY="unmount hung"; }
  tr=$EPOCHREALTIME
  echo "  remount: $MOUNT_DESC; status --wait exit $st_rc"
  case $st_rc in
    0) ;;
    3) TRIAL_OK=0; TRIAL_WHY="status --wait timed out"; echo "  status: timed out: $st_json" ;;
    *)
      TRIAL_OK=0; TRIAL_WHY="status --wait exit $st_rc"
      echo "  status exit $st_rc: $(grep -o '"failed":\[.*\],"damaged":[0-9]*' <<<"$st_json" | cut -c1-600)"
      # a failed record would fail every later trial: continue on a fresh cache dir
      CACHE=$T_TMP/cache.$idx
      echo "  (later trials use the fresh cache dir $CACHE)"
      ;;
  esac
  ((errs == 0)) || { TRIAL_OK=0; TRIAL_WHY="$errs operation(s) failed"; }

  # --- check the bucket against the model ---
  # old_version FILE NAME: FILE equals an earlier closed version of NAME
  old_version() {
    local f
    for f in "$W/old/${2//\//%}".*; do [ -f "$f" ] && cmp -s "$1" "$f" && return 0; done
    return 1
  }
  local keys got code lost=0 corrupt=0 stale=0 extra_n=0 files=0 k rel
  keys=$(keys_under "$P") || { TRIAL_OK=0; TRIAL_WHY="listing failed"; echo "  listing of $P failed"; }
  local -A seen=()
  local -a names=() args=() codes=()
  for name in "${!MODEL[@]}" "${!ALT[@]}"; do
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    names+=("$name")
  done
  for ((i = 0; i < ${#names[@]}; i++)); do args+=(-o "$W/got.$i" "$(S3_QUERY='' s3_url "$P${names[i]}")"); done
  ((${#names[@]} == 0)) || mapfile -t codes < <(s3_many GET "${args[@]}" 2>/dev/null)
  local -A holds=() # name -> the fetched copy (for the rename check)
  local acc a ok
  for ((i = 0; i < ${#names[@]}; i++)); do
    name=${names[i]}
    got=$W/got.$i
    code=${codes[i]:-000}
    files=$((files + 1))
    # what this name may hold: its last closed version (or absence), or what
    # an interrupted operation may have left
    if [ -n "${MODEL[$name]:-}" ]; then acc="$M/$name"; else acc="-"; fi
    acc+=" ${ALT[$name]:-}"
    ok=0
    for a in $acc; do
      if [ "$a" = - ]; then
        [ "$code" = 404 ] && ok=1
      elif [ "$code" = 200 ] && cmp -s "$got" "$a"; then
        ok=1
      fi
    done
    [ "$code" = 200 ] && holds[$name]=$got
    if ((ok)); then
      [ -n "${ALT[$name]:-}" ] && echo "  note: $P$name after the interrupted operation: $([ "$code" = 404 ] && echo absent || echo "$(stat -c %s "$got") B")"
    elif [ "$code" = 404 ] && [ -n "$mid_prev" ] && [ "$name" = "$mid" ]; then
      # allowed: the interrupted write had truncated this previous version
      echo "  note: $P$name absent; its interrupted overwrite had truncated the previous closed version"
      TOT_MIDWRITE_PREV_GONE=$((TOT_MIDWRITE_PREV_GONE + 1))
    elif [ "$code" = 404 ]; then
      lost=$((lost + 1))
      echo "  LOST $P$name (closed, $(stat -c %s "$M/$name" 2>/dev/null) B)"
    elif [ "$code" != 200 ]; then
      lost=$((lost + 1))
      echo "  LOST? $P$name: GET answered HTTP $code"
    elif [ -z "${MODEL[$name]:-}" ]; then
      extra_n=$((extra_n + 1))
      echo "  EXTRA $P$name ($(stat -c %s "$got") B): not a version the interrupted operation could leave"
    elif old_version "$got" "$name"; then
      stale=$((stale + 1))
      echo "  STALE $P$name: the bucket has an earlier closed version ($(stat -c %s "$got") B), not the last one ($(stat -c %s "$M/$name") B)"
    else
      corrupt=$((corrupt + 1))
      echo "  CORRUPT $P$name: bucket $(stat -c %s "$got") B, closed version $(stat -c %s "$M/$name") B, first difference at byte $(cmp "$got" "$M/$name" 2>&1 | grep -o 'byte [0-9]*' | head -n 1)"
    fi
    if [ "$code" = 200 ] && ! grep -qxF -- "$P$name" <<<"$keys"; then
      echo "  NOT LISTED $P$name (GET works)"
      lost=$((lost + 1))
    fi
  done
  if [ -n "$JOINT" ]; then
    # an interrupted rename never loses the file: it is under one name or both
    read -r a name got <<<"$JOINT"
    if ! { [ -n "${holds[$a]:-}" ] && cmp -s "${holds[$a]}" "$got"; } &&
      ! { [ -n "${holds[$name]:-}" ] && cmp -s "${holds[$name]}" "$got"; }; then
      lost=$((lost + 1))
      echo "  LOST by the interrupted rename $a -> $name: neither name holds the file"
    fi
  fi
  for ((i = 0; i < ${#names[@]}; i++)); do rm -f "$W/got.$i"; done
  # the never-closed file: absent, or its previous closed version (already checked above)
  if [ -n "$mid" ] && [ -z "$mid_prev" ] && grep -qxF -- "$P$mid" <<<"$keys"; then
    extra_n=$((extra_n + 1))
    echo "  EXTRA $P$mid: a file never closed reached the bucket ($(s3curl GET "$P$mid" | wc -c) B)"
  fi
  while IFS= read -r k; do
    [ -n "$k" ] || continue
    rel=${k#"$P"}
    [ "$rel" = "" ] || [ "$rel" = sub/ ] && continue # the directory markers
    [ -n "${MODEL[$rel]:-}" ] && continue
    [ -n "${ALT[$rel]:-}" ] && continue                   # checked above
    [ "$rel" = "$mid" ] && [ -z "$mid_prev" ] && continue # counted above
    extra_n=$((extra_n + 1))
    echo "  EXTRA $k ($(s3curl GET "$k" | wc -c) B): deleted, renamed away or never written"
  done <<<"$keys"

  # leaks: warnings only
  local up st_after
  up=$(uploads_under "$P")
  st_after=$(staging_count)
  if [ "$up" != "?" ] && ((up > 0)); then
    echo "  LEAK: $up multipart upload(s) left open under $P"
    TOT_LEAK_UPLOADS=$((TOT_LEAK_UPLOADS + up))
  fi
  # upload while writing (issue 13): uploads begun from open files, and
  # closes that adopted one
  local streamed adopted
  streamed=$(grep -c "begins while it is written" "$TLOG")
  adopted=$(grep -c "adopted at close" "$TLOG")
  TOT_STREAMED=$((${TOT_STREAMED:-0} + streamed))
  TOT_ADOPTED=$((${TOT_ADOPTED:-0} + adopted))
  ((streamed > 0)) && echo "  uploads begun while written: $streamed, adopted at close: $adopted"
  if ((st_after > staging_before)); then
    echo "  warning: $((st_after - staging_before)) staging file(s) left in the cache after a clean unmount with nothing pending"
    TOT_LEAK_STAGING=$((TOT_LEAK_STAGING + st_after - staging_before))
  fi

  TOT_FILES=$((TOT_FILES + files))
  TOT_LOST=$((TOT_LOST + lost))
  TOT_CORRUPT=$((TOT_CORRUPT + corrupt))
  TOT_STALE=$((TOT_STALE + stale))
  TOT_EXTRA=$((TOT_EXTRA + extra_n))
  ((lost + corrupt + stale + extra_n == 0)) || { TRIAL_OK=0; TRIAL_WHY="lost $lost, corrupted $corrupt, stale $stale, extra $extra_n"; }
  if [ "$up" != "?" ] && ((up > 0)); then TRIAL_OK=0; TRIAL_WHY="${TRIAL_WHY:+$TRIAL_WHY; }$up multipart upload(s) left open"; fi
  echo "  checked $files file(s): lost $lost, corrupted $corrupt, stale $stale, extra $extra_n" \
    "(seconds: mount+writes $(secs "$t0" "$tw"), to kill $(secs "$tw" "$tk"), recovery $(secs "$tk" "$tr"), check $(secs "$tr" "$EPOCHREALTIME"))"

  if ((TRIAL_OK == 0)) && [ -n "${CAMPAIGN_KEEP_LOGS:-}" ]; then
    mkdir -p "$CAMPAIGN_KEEP_LOGS" && cp "$TLOG" "$CAMPAIGN_KEEP_LOGS/seed-$TSEED.log"
  fi
  if ((TRIAL_OK == 0)); then
    echo "  mount log (last 25 lines):"
    tail -n 25 "$TLOG" | sed 's/^/    /'
  fi
  # free the server's space for the next trials
  args=()
  while IFS= read -r k; do
    [ -n "$k" ] && [ "$k" != LIST-ERROR ] && args+=("$(S3_QUERY='' s3_url "$k")")
  done <<<"$keys"
  ((${#args[@]} == 0)) || s3_many DELETE "${args[@]}" >/dev/null 2>&1
}

echo "crash campaign: $TRIALS trial(s), base seed $SEED, server $SERVER, bucket $S3_BUCKET"
T0=$SECONDS
for ((t = 0; t < TRIALS; t++)); do
  MOMENT=
  TRIAL_WHY=
  run_trial "$t"
  if ((TRIAL_OK)); then
    t_ok "trial seed=$TSEED"
  else
    t_fail "trial seed=$TSEED" "$TRIAL_WHY; replay: SEED=$TSEED TRIALS=1 SERVER=$SERVER tests/crash/campaign.sh"
    FAILED_SEEDS+=("$TSEED")
  fi
done

echo
echo "=== crash campaign totals (base seed $SEED, $SERVER, $((SECONDS - T0)) s)"
echo "trials run: $TRIALS"
echo "operations: $TOT_OPS"
echo "files checked: $TOT_FILES"
echo "lost: $TOT_LOST"
echo "corrupted: $TOT_CORRUPT"
echo "stale (an earlier closed version instead of the last): $TOT_STALE"
echo "extra: $TOT_EXTRA"
printf 'kill moments:'
for k in before-parts between-parts during-complete after-uploads write-in-progress in-close in-rename in-unlink in-complete; do printf ' %s %d' "$k" "${MOMENTS[$k]:-0}"; done
echo
printf 'kills at crash points:'
for k in "${!CRASHPOINTS[@]}"; do printf ' %s %d' "$k" "${CRASHPOINTS[$k]}"; done
echo
echo "interrupted overwrites whose previous version is gone (allowed): $TOT_MIDWRITE_PREV_GONE"
echo "kills inside an operation: ${KILLS_INSIDE:-0} of $TRIALS trials, inside close: ${MOMENTS[in-close]:-0}"
echo "uploads begun while a file was written: ${TOT_STREAMED:-0}, adopted at its close: ${TOT_ADOPTED:-0}"
echo "multipart uploads left open (failures): $TOT_LEAK_UPLOADS"
echo "warnings: staging files left $TOT_LEAK_STAGING"
((${#FAILED_SEEDS[@]} == 0)) || echo "failed seeds: ${FAILED_SEEDS[*]}"
t_summary
