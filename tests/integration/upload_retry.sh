#!/usr/bin/env bash
# upload_retry.sh - an upload that meets an error that does not heal gives
# up instead of retrying forever, and `bucketfs retry` sends it again, over
# Ceph RGW behind the fault proxy (its holdWrites answers every write 403
# AccessDenied), checked in the bucket with curl:
#   - a 12 MiB file (3 parts) written while writes are refused: after its
#     auth budget (4 attempts) the record moves to the failed table, status
#     shows why and what to do, the staged file stays, the bucket has nothing;
#   - no request follows the giving up;
#   - writes allowed again, `bucketfs retry MOUNTPOINT KEY` makes the running
#     mount upload it: the object is identical, the failed table is empty,
#     the staging dir holds no data file;
#   - a retry of a key with no failed upload exits 1 and says so.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"
# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"
MNT=$T_TMP/mnt
KEY=retry-$$.bin
start_proxy || t_abort "faultproxy did not start: $(cat "$T_TMP/proxy.stderr")"
hold() { curl -sS -o /dev/null -w '%{http_code}' -X POST -d "{\"holdWrites\": $1}" "$PX/__fault/config"; }
m_mount "$MNT" -o "url=$PX,part_size=5" || t_abort "mount through the proxy failed"

t_check "writes refused from now on" "$(hold true)" 200
head -c $((12 * 1024 * 1024)) /dev/urandom >"$T_TMP/big.bin"
cp "$T_TMP/big.bin" "$MNT/$KEY" || t_fail "cp into the mount"
failed_json() { status_json | grep -o "\"failed\":\[.*" ; }
gave_up=0
for _ in $(seq 1 600); do
  if failed_json | grep -q "\"key\":\"$KEY\""; then gave_up=1; break; fi
  sleep 0.1
done
t_check "the upload gave up into the failed table" "$gave_up" 1
reason=$(failed_json | grep -o '"last_error":"[^"]*"' | head -n 1)
case $reason in
  *"gave up after 4 failed attempts (auth)"*"check the bucket policy"*"bucketfs retry"*) t_ok "status says why and what to do" ;;
  *) t_fail "status says why and what to do" "$reason" ;;
esac
t_check "no pending record left" "$(status_json | sed 's/"failed":\[.*//' | grep -c "\"key\":\"$KEY\"")" 0
"$BIN" status "$MNT" >"$T_TMP/status.txt" 2>&1
if grep -q "$KEY" "$T_TMP/status.txt" && grep -q 'gave up' "$T_TMP/status.txt"; then t_ok "plain status lists it"; else
  t_fail "plain status lists it" "$(cat "$T_TMP/status.txt")"
fi
t_check "the bucket has nothing under the key" "$(s3_status HEAD "$KEY")" 404
data_files=$(find "$T_TMP/cache" -name '*.data' -type f | wc -l)
t_check "the staged file is kept" "$data_files" 1
before=$(curl -sS "$PX/__fault/stats" | grep -o '"requests":[0-9]*' | cut -d: -f2)
sleep 3
after=$(curl -sS "$PX/__fault/stats" | grep -o '"requests":[0-9]*' | cut -d: -f2)
t_check "no request after giving up (3 s)" "$((after - before))" 0
cmp -s "$T_TMP/big.bin" "$MNT/$KEY" && t_ok "the mount still reads the closed file" || t_fail "the mount still reads the closed file"

"$BIN" retry "$MNT" no-such-key >"$T_TMP/retry0.out" 2>&1
t_check "retry of a key without a failed upload: exit 1" "$?" 1
grep -q 'no-such-key has no failed upload' "$T_TMP/retry0.out" && t_ok "and says so" || t_fail "and says so" "$(cat "$T_TMP/retry0.out")"

t_check "writes allowed again" "$(hold false)" 200
"$BIN" retry "$MNT" "$KEY" >"$T_TMP/retry.out" 2>&1
t_check "bucketfs retry: exit 0" "$?" 0
grep -q 'asked the mount' "$T_TMP/retry.out" && t_ok "retry asked the running mount" || t_fail "retry asked the running mount" "$(cat "$T_TMP/retry.out")"
# the mount takes the request up within a few seconds; then status --wait
taken=0
for _ in $(seq 1 300); do
  if ! failed_json | grep -q "\"key\":\"$KEY\""; then taken=1; break; fi
  sleep 0.1
done
t_check "the running mount took the request up" "$taken" 1
if wait_idle 120; then t_ok "confirmed after the retry"; else t_fail "confirmed after the retry" "$(status_json)"; fi
t_check "the request file is consumed" "$(find "$T_TMP/cache" -name 'retry.request*' | wc -l)" 0
same_in_bucket "the object is identical" "$KEY" "$T_TMP/big.bin"
t_check "the failed table is empty" "$(failed_json | grep -c "\"key\":\"$KEY\"")" 0
t_check "no staged data file left" "$(find "$T_TMP/cache" -name '*.data' -type f | wc -l)" 0
t_check "no multipart upload left open" "$(open_uploads)" 0

m_umount "$MNT"
t_summary
