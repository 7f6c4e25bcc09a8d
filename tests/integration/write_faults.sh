#!/usr/bin/env bash
# write_faults.sh - uploads through a broken network, over Ceph RGW with
# tests/tools/faultproxy.js between bucketfs and the server, checked in the
# bucket with curl --aws-sigv4 + cmp and counted in RGW's access log:
#   - the server unreachable for 20 s mid-upload (every connection reset), then
#     back: the upload finishes in the same mount, the object is identical, no
#     failed record, and no more parts reach RGW than were missing plus those
#     in flight;
#   - the same with connections that hang for 20 s (the transport's low-speed
#     limit must notice);
#   - random 503/500 answers and connection resets on PUT/POST (parts, single
#     PUTs, create, complete): every file arrives intact, nothing fails.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
command -v node >/dev/null || t_abort "node missing (needed for tests/tools/faultproxy.js)"
with_server rgw || t_abort "cannot start rgw"

t_cleanup_push t_empty_bucket  # the shared RGW must not fill up

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
MIB=$((1024 * 1024))
B=$(s3_encode "$S3_BUCKET")
CONC=2
SEED=${FAULT_SEED:-4242}

node "$BUCKETFS_ROOT/tests/tools/faultproxy.js" --upstream "$S3_ENDPOINT" --port-file "$T_TMP/px.port" \
  --log "$T_TMP/px.log" --seed "$SEED" >>"$T_TMP/px.err" 2>&1 &
PX_PID=$!
t_cleanup_push kill -TERM "$PX_PID"
for _ in $(seq 1 100); do [ -s "$T_TMP/px.port" ] && break; sleep 0.1; done
[ -s "$T_TMP/px.port" ] || t_abort "faultproxy did not start: $(cat "$T_TMP/px.err")"
PX=http://127.0.0.1:$(cat "$T_TMP/px.port")
px_config() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X POST -d "$1" "$PX/__fault/config?reset=1"; }
px_cut() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$PX/__fault/cut?seconds=$1&mode=$2"; }
px_stat() { curl -sS --max-time 10 "$PX/__fault/stats" | tr -d ' \n' | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }

# --- helpers ---
# ok_part_puts MARK KEY_ERE: part PUTs RGW answered 200 after MARK
ok_part_puts() { t_log_count "$1" "\"PUT /$B/$2\\?partNumber=[^ ]* HTTP/1\\.1\" 200 "; }
t_le() { if [ "$2" -le "$3" ]; then t_ok "$1 ($2 <= $3)"; else t_fail "$1" "$2 > $3"; fi; }
no_failed() { t_check "$1" "$(status_json | grep -o '"failed":\[[^]]*\]')" '"failed":[]'; }

head -c $((100 * MIB)) /dev/urandom >"$T_TMP/big.bin"
TOTAL=20

m_mount "$MNT" -o "url=$PX,part_size=5,upload_concurrency=$CONC" || t_abort "mount failed"

# cut_case NAME MODE: a 100 MiB upload with the network cut for 20 s at 5 parts
cut_case() {
  local name=$1 mode=$2 key="cut-$2.bin" m0 done_c after code
  cp "$T_TMP/big.bin" "$MNT/$key"
  t_check "$name: cp returns" "$?" 0
  if wait_parts "$key" 5; then t_ok "$name: 5 parts done"; else t_fail "$name: 5 parts done" "$(status_json)"; fi
  # recorded before the mark: every part recorded by then is stored by then
  done_c=$(st_get "$key" parts_done)
  m0=$(t_log_mark)
  t_check "$name: cut for 20 s" "$(px_cut 20 "$mode")" 200
  sleep 17
  t_check "$name: still pending near the end of the cut" "$(st_get "$key" key)" "$key"
  echo "     (at 17 s: $(st_get "$key" parts_done)/$TOTAL parts, attempts $(st_get "$key" attempts), last_error '$(st_get "$key" last_error)')"
  no_failed "$name: not moved to the failed table"
  t_check "$name: not in the bucket yet" "$(s3_status HEAD "$key")" 404
  if wait_idle; then t_ok "$name: finished after the cut, same mount"; else t_fail "$name: finished after the cut" "$(status_json)"; fi
  same_in_bucket "$name: object identical" "$key" "$T_TMP/big.bin"
  after=$(ok_part_puts "$m0" "${key//./\\.}")
  t_le "$name: parts stored after the cut began <= missing + in flight" "$after" $((TOTAL - done_c + CONC))
  no_failed "$name: nothing failed"
  code=$(S3_QUERY=$(s3_query uploads "prefix=$key") s3curl GET "" | grep -c "<Key>$key</Key>")
  t_check "$name: no multipart upload left" "$code" 0
}

# ================= the server unreachable for 20 s =================
cut_case "cut(reset)" reset
cut_case "cut(hang)" hang

# ================= transient errors and resets on PUT/POST =================
t_check "proxy: 503/500/resets on PUT and POST" \
  "$(px_config '{"match":"^(PUT|POST) ","p503":8,"p500":4,"resetReq":4,"resetResp":4}')" 200
curl -sS -o /dev/null -X POST "$PX/__fault/stats/reset"
head -c $((30 * MIB)) /dev/urandom >"$T_TMP/t30.bin"
for i in 1 2 3 4 5 6; do head -c $((i * 1000)) /dev/urandom >"$T_TMP/small$i.bin"; done
ok=0
cp "$T_TMP/t30.bin" "$MNT/t30.bin" && ok=$((ok + 1))
cp "$T_TMP/big.bin" "$MNT/t100.bin" && ok=$((ok + 1))
for i in 1 2 3 4 5 6; do cp "$T_TMP/small$i.bin" "$MNT/small$i.bin" && ok=$((ok + 1)); done
t_check "faults: 8 cp return 0" "$ok" 8
if wait_idle; then t_ok "faults: all uploaded"; else t_fail "faults: all uploaded" "$(status_json)"; fi
same_in_bucket "faults: 30 MiB identical" t30.bin "$T_TMP/t30.bin"
same_in_bucket "faults: 100 MiB identical" t100.bin "$T_TMP/big.bin"
bad=0
for i in 1 2 3 4 5 6; do
  s3_status GET "small$i.bin" >/dev/null
  cmp -s "$T_TMP/body" "$T_TMP/small$i.bin" || bad=$((bad + 1))
done
t_check "faults: 6 small files identical" "$bad" 0
no_failed "faults: nothing failed"
n=$(($(px_stat 503) + $(px_stat 500) + $(px_stat reset-req) + $(px_stat reset-resp)))
if [ "$n" -gt 0 ]; then t_ok "faults: the proxy injected $n faults"; else t_fail "faults injected" "none (seed $SEED)"; fi
t_check "proxy: faults off" "$(px_config '{}')" 200

t_summary
