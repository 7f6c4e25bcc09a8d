#!/usr/bin/env bash
# ship_status.sh - `bucketfs status` in its three forms (plain lines, a
# terminal with progress bars checked under a pseudo-terminal, --json), over a
# checkpoint store holding a pending, an uploading, a failing and a failed
# record (made by tests/tools/status_fixture, no server needed); --wait's exit
# codes and --watch's redraw.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BUILD_DIR=${BUILD:-build}
BIN=${BUCKETFS_BIN:-$BUILD_DIR/bucketfs}
FIX=$BUILD_DIR/tests/tools/status_fixture
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
[ -x "$FIX" ] || t_abort "no $FIX (run make tests-build)"
command -v script >/dev/null || t_abort "script(1) missing (bsdutils)"

STATE=$T_TMP/cache/demo-0123456789ab
"$FIX" "$STATE" || t_abort "status_fixture failed"

# --- plain (not a terminal) ---
plain=$("$BIN" status --state-dir "$STATE")
t_check "plain: exit 0" "$?" 0
echo "$plain" | sed 's/^/    /'
t_check "plain: a line per pending file" "$(echo "$plain" | grep -c 'bytes.*parts')" 3
t_check "plain: uploading shows parts 3/8" "$(echo "$plain" | grep '^video/big.mp4' | grep -o 'parts 3/8')" "parts 3/8"
t_check "plain: uploaded bytes" "$(echo "$plain" | grep '^video/big.mp4' | grep -o 'uploaded 25165824/67108864')" \
  "uploaded 25165824/67108864"
t_check "plain: failing shows its error" "$(echo "$plain" | grep '^logs/app.log' | grep -c 'error: Transient (503 SlowDown)')" 1
t_check "plain: failed table entry" "$(echo "$plain" | grep '^tmp/lost.bin' | grep -c 'FAILED')" 1
t_check "plain: total line" "$(echo "$plain" | tail -n 1)" "total: 3 pending, 1 failed, 25165824/70255592 bytes uploaded"
t_check "plain: no escape sequences" "$(echo "$plain" | grep -c $'\033')" 0

# --- terminal (pseudo-terminal via script(1), 80 columns) ---
tty_out=$(COLUMNS=80 script -qec "stty cols 80 2>/dev/null; $BIN status --state-dir $STATE" /dev/null | tr -d '\r')
echo "$tty_out" | sed 's/^/    /'
t_check "tty: progress bar for the uploading file" \
  "$(echo "$tty_out" | grep '^video/big.mp4' | grep -cE '\[#+\.+\] 37% 24\.0 MiB/64\.0 MiB parts 3/8 uploading')" 1
t_check "tty: empty bar for the pending file" "$(echo "$tty_out" | grep '^docs/report.pdf' | grep -cE '\[\.+\] 0%')" 1
t_check "tty: error on its own line" "$(echo "$tty_out" | grep -c '^    last error (attempt 3): Transient')" 1
t_check "tty: total bar" "$(echo "$tty_out" | grep -cE '^total \[#+\.+\] 24\.0 MiB/67\.0 MiB in 3 file')" 1
t_check "tty: lines fit 80 columns" "$(echo "$tty_out" | awk 'length($0) > 80' | wc -l)" 0

# --- --json (stable fields, documented in bucketfs(1)) ---
json=$("$BIN" status --state-dir "$STATE" --json)
check_json() { # EXPR EXPECTED: a node expression over the parsed document
  t_check "json: $1" "$(node -e "const d=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log($1)" <<<"$json")" "$2"
}
check_json 'd.version' 1
check_json 'd.pending.length' 3
check_json 'd.failed.length' 1
check_json 'd.pending.find(p=>p.key=="video/big.mp4").parts_done' 3
check_json 'd.pending.find(p=>p.key=="video/big.mp4").parts_total' 8
check_json 'd.pending.find(p=>p.key=="video/big.mp4").state' uploading
check_json 'd.pending.find(p=>p.key=="logs/app.log").attempts' 3
check_json 'd.total.bytes_done' 25165824
check_json 'Object.keys(d.pending[0]).join(",")' \
  'key,size,bytes_done,parts_done,parts_total,part_size,state,attempts,generation,upload_id,staging_path,last_error,updated'

# --- --wait / --watch ---
"$BIN" status --state-dir "$STATE" --wait --timeout 1 >/dev/null 2>&1
t_check "wait: times out while records are pending (exit 3)" "$?" 3
watch_out=$(script -qec "$BIN status --state-dir $STATE --watch --timeout 2" /dev/null | tr -d '\r')
redraws=$(echo "$watch_out" | grep -c $'\033\\[[0-9]*A')
if [ "$redraws" -ge 1 ]; then t_ok "watch: redraws in place ($redraws cursor-up escapes in 2 s)"; else t_fail "watch: redraws in place" "no cursor-up escape"; fi
EMPTY=$T_TMP/cache/empty-000000000000
mkdir -p "$EMPTY/checkpoint"
"$BIN" status --state-dir "$EMPTY" --wait --timeout 5 >/dev/null
t_check "wait: exit 0 when nothing is pending" "$?" 0
t_check "plain: nothing pending" "$("$BIN" status --state-dir "$EMPTY")" "nothing pending"

t_summary
