#!/usr/bin/env bash
# metrics_scrape.sh - (issue 14) -o metrics=127.0.0.1:PORT serves Prometheus
# text format on loopback; scraped during an upload (parts slowed and some
# refused with 503 by a fault proxy) its counters move as the bucket does:
# parts counted against the proxy's own log while in flight, and at the end
# parts, bytes, requests by outcome, retries by reason and re-sent parts equal
# what the server and the proxy saw; pending files and bytes and staging space
# follow the upload; credentials are reported valid.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
BIN=${BUCKETFS_BIN:-$BUCKETFS_ROOT/build/bucketfs}
with_server rgw || t_abort "no rgw server"
t_cleanup_push t_empty_bucket
. "$BUCKETFS_ROOT/tests/lib/mount.sh"
. "$BUCKETFS_ROOT/tests/lib/fault.sh"

start_proxy --seed 11 --p503 40 --match "^PUT .*partNumber=" --delay-max 1500 || t_abort "fault proxy did not start"
PORT=$(free_port) || t_abort "no free port"
MNT=$T_TMP/mnt
m_mount "$MNT" -o "url=$PX,metrics=$PORT,part_size=5,upload_concurrency=1" || t_abort "mount failed"
t_check "the log gives the address" "$(grep -o "metrics at http://[^ ]*" "$M_LOG")" \
  "metrics at http://127.0.0.1:$PORT/metrics"
t_check "it listens on loopback only" "$(ss -Htln "sport = :$PORT" | awk '{print $4}')" "127.0.0.1:$PORT"

scrape() { curl -sS --max-time 10 "http://127.0.0.1:$PORT/metrics"; }
# metric TEXT NAME{LABELS}: the sample's value ("" when absent)
metric() { awk -v n="$2" '$1 == n { print $2 }' <<<"$1"; }
part_puts() { grep -cE "PUT /$S3_BUCKET/big\?partNumber=[0-9]+&uploadId=[^ ]* .*client=200" "$PX_LOG" || true; }

out=$(scrape)
t_check "content before any upload" "$(metric "$out" bucketfs_pending_files)" 0
t_check "credentials valid" "$(metric "$out" 'bucketfs_credentials_valid{source="passwd_file"}')" 1
t_check "static credentials do not expire" \
  "$(metric "$out" 'bucketfs_credentials_expiry_timestamp_seconds{source="passwd_file"}')" 0
t_check "TYPE lines" "$(grep -c '^# TYPE bucketfs_requests_total counter$' <<<"$out")" 1

SIZE=$((50 << 20))
head -c "$SIZE" /dev/urandom >"$T_TMP/big"
cp "$T_TMP/big" "$MNT/big" || t_fail "write" "cp failed"
seen_mid=""
for _ in $(seq 1 600); do
  before=$(part_puts)
  out=$(scrape)
  after=$(part_puts)
  parts=$(metric "$out" bucketfs_upload_parts_total)
  if [ "${parts:-0}" -ge 1 ] && [ "${parts:-0}" -lt 10 ]; then
    seen_mid=yes
    # One part in flight at most: the proxy logs it when the answer is delivered.
    if [ "$parts" -ge $((before - 1)) ] && [ "$parts" -le $((after + 1)) ]; then
      t_ok "in flight: parts counted as the proxy delivered them ($before <= $parts <= $after)"
    else
      t_fail "in flight: parts counted as the proxy delivered them" "metric $parts, proxy $before..$after"
    fi
    t_check "in flight: one pending file" "$(metric "$out" bucketfs_pending_files)" 1
    t_check "in flight: its bytes" "$(metric "$out" bucketfs_pending_bytes)" "$SIZE"
    used=$(metric "$out" bucketfs_staging_used_bytes)
    t_check "in flight: staging space used" "$([ "${used:-0}" -ge "$SIZE" ] && echo yes)" yes
    free=$(metric "$out" bucketfs_staging_free_bytes)
    t_check "in flight: staging space free" "$([ "${free:-0}" -gt 0 ] && echo yes)" yes
    break
  fi
  sleep 0.2
done
t_check "a scrape during the upload" "$seen_mid" yes
wait_idle 300 || t_fail "upload" "still pending"
same_in_bucket "the object is whole" big "$T_TMP/big"

out=$(scrape)
served=$(t_log_count 0 "\"PUT /$S3_BUCKET/big\\?partNumber=[0-9]+&uploadId=[^ ]* HTTP/1.1\" 200")
refused=$(grep -cE "PUT /$S3_BUCKET/big\?partNumber=.* fault=([^ ]*\+)?503" "$PX_LOG" || true)
t_check "parts: the server's count" "$(metric "$out" bucketfs_upload_parts_total)" "$served"
t_check "parts: ten" "$served" 10
t_check "bytes: the file's size" "$(metric "$out" bucketfs_upload_bytes_total)" "$SIZE"
t_check "some parts were refused (503)" "$([ "$refused" -ge 1 ] && echo yes)" yes
t_check "requests ok" "$(metric "$out" 'bucketfs_requests_total{op="upload_part",outcome="ok"}')" 10
t_check "requests throttled = the proxy's 503s" \
  "$(metric "$out" 'bucketfs_requests_total{op="upload_part",outcome="Throttled"}')" "$refused"
t_check "retries by reason = the proxy's 503s" \
  "$(metric "$out" 'bucketfs_retries_total{op="upload_part",reason="Throttled"}')" "$refused"
t_check "parts re-sent = the proxy's 503s" "$(metric "$out" bucketfs_upload_parts_resent_total)" "$refused"
t_check "bytes re-sent" "$(metric "$out" bucketfs_upload_bytes_resent_total)" "$((refused * (5 << 20)))"
t_check "latency observations = attempts" \
  "$(metric "$out" 'bucketfs_request_duration_seconds_count{op="upload_part"}')" "$((10 + refused))"
t_check "after: nothing pending" "$(metric "$out" bucketfs_pending_files)" 0
t_check "after: no failed upload" "$(metric "$out" bucketfs_failed_uploads)" 0
t_check "not found elsewhere" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/other")" 404
m_umount "$MNT"
t_summary
