#!/usr/bin/env bash
# store_sse.sh - encryption and object options through the mount, over Ceph
# RGW (started by start-rgw.sh with its "testing" KMS and SSE over plain
# HTTP), checked in the bucket with curl (never through the mount):
#   - sse=aws:kms:KEYID: files copied in (single PUT and multipart) are
#     stored encrypted with that key (x-amz-server-side-encryption and the key
#     id in the HEAD answer) and byte-identical; Content-Type comes from the
#     extension; a rename and a chmod (server-side copies) keep the
#     encryption; RGW is learnt as a Content-MD5 server (it does not verify
#     flexible checksums);
#   - kill -9 while the Complete of an encrypted multipart upload is on the
#     wire (the fault proxy delays each Complete and loses its answer): after the remount
#     the object is confirmed, identical and encrypted, with no part sent again;
#   - sse_c_key_file=: objects are stored with the customer key (a GET
#     without the key is refused, with it the bytes are identical), reads
#     through the mount work, a rename keeps the key; a key file open to
#     others stops the mount with one line.
# SSE-C checks sign with V2 (tests/lib/s3v2.sh): curl 7.88 cannot sign them.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/s3v2.sh
. "$(dirname "$0")/../lib/s3v2.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
command -v node >/dev/null || t_abort "node missing (needed for tests/tools/faultproxy.js)"
with_server rgw || t_abort "cannot start rgw"
[ -n "${S3_SSE_KMS_KEY_ID:-}" ] || t_abort "the RGW env has no S3_SSE_KMS_KEY_ID (start-rgw.sh too old?)"
t_cleanup_push t_empty_bucket

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
MIB=$((1024 * 1024))
B=$(s3_encode "$S3_BUCKET")
KMS=$S3_SSE_KMS_KEY_ID

# kms_of KEY: "<sse> <key id>" from a HEAD with curl
kms_of() {
  s3_status HEAD "$1" >/dev/null
  echo "$(s3_header x-amz-server-side-encryption) $(s3_header x-amz-server-side-encryption-aws-kms-key-id)"
}

# ======================= SSE-KMS =======================
head -c 1000 /dev/urandom >"$T_TMP/small.bin"
head -c $((12 * MIB)) /dev/urandom >"$T_TMP/big.bin"
printf '{"a": 1}\n' >"$T_TMP/doc.json"
m_mount "$MNT" -o "sse=aws:kms:$KMS,part_size=5" || t_abort "mount with sse=aws:kms failed"
mark=$(t_log_mark)
ok=0
for f in small.bin big.bin doc.json; do cp "$T_TMP/$f" "$MNT/$f" && ok=$((ok + 1)); done
t_check "kms: cp of 3 files" "$ok" 3
if wait_idle; then t_ok "kms: status --wait"; else t_fail "kms: status --wait" "$(status_json)"; fi
for f in small.bin big.bin doc.json; do
  t_check "kms: $f encrypted with the key" "$(kms_of "$f")" "aws:kms $KMS"
  same_in_bucket "kms: $f identical" "$f" "$T_TMP/$f"
done
t_check "kms: big.bin went in 3 parts" "$(t_log_count "$mark" "\"PUT /$B/big\\.bin\\?partNumber=")" 3
s3_status HEAD doc.json >/dev/null
t_check "Content-Type from the extension" "$(s3_header content-type)" application/json
mv "$MNT/big.bin" "$MNT/moved.bin"
t_check "kms: rename keeps the encryption" "$(kms_of moved.bin)" "aws:kms $KMS"
same_in_bucket "kms: renamed object identical" moved.bin "$T_TMP/big.bin"
chmod 600 "$MNT/small.bin"
t_check "kms: chmod keeps the encryption" "$(kms_of small.bin)" "aws:kms $KMS"
t_check "kms: chmod stored the mode" "$(s3_header x-amz-meta-mode)" $((8#100600))
t_check "RGW learnt as a Content-MD5 server" "$(grep -c 'does not verify flexible checksums' "$M_LOG")" 1
m_umount "$MNT"

# ============ SSE-KMS: kill -9 while Complete's answer is lost ============
# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"
start_proxy --match 'POST .*uploadId=' --reset-resp 100 --delay-max 2000 || t_abort "faultproxy did not start: $(cat "$T_TMP/proxy.stderr")"
m_mount "$MNT" -o "url=$PX,sse=aws:kms:$KMS,part_size=5" ||
  t_abort "mount through the proxy failed"
mark=$(t_log_mark)
cp "$T_TMP/big.bin" "$MNT/lost.bin"
for _ in $(seq 1 600); do grep -q 'reset-resp' "$PX_LOG" 2>/dev/null && break; sleep 0.1; done
pid=$(cat "$T_TMP/pid.$(basename "$MNT")")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
fusermount3 -u -z "$MNT"
if grep -q 'POST .*reset-resp' "$PX_LOG"; then t_ok "kill: a Complete reached RGW, its answer lost"; else t_fail "kill: a Complete reached RGW" "$(tail -n 3 "$PX_LOG")"; fi
t_check "kill: the record was still pending" "$(st_get lost.bin key)" lost.bin
before=$(t_log_count "$mark" "\"PUT /$B/lost\\.bin\\?partNumber=")
# The same endpoint (the proxy, its faults off): the cache's state belongs to an endpoint.
t_check "proxy: faults off" "$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{}' "$PX/__fault/config?reset=1")" 200
m1=$(t_log_mark)
m_mount "$MNT" -o "url=$PX,sse=aws:kms:$KMS,part_size=5" || t_abort "remount after kill failed"
if wait_idle 120; then t_ok "kill: confirmed after the remount"; else t_fail "kill: confirmed after the remount" "$(status_json)"; fi
same_in_bucket "kill: object identical" lost.bin "$T_TMP/big.bin"
t_check "kill: object encrypted" "$(kms_of lost.bin)" "aws:kms $KMS"
t_check "kill: 3 part PUTs before, none after the remount" \
  "$before/$(t_log_count "$m1" "\"PUT /$B/lost\\.bin\\?partNumber=")" 3/0
m_umount "$MNT"

# ======================= SSE-C =======================
head -c 32 /dev/urandom >"$T_TMP/ssec.key"
chmod 600 "$T_TMP/ssec.key"
m_mount "$MNT" -o "sse_c_key_file=$T_TMP/ssec.key,part_size=5" || t_abort "mount with sse_c_key_file failed"
cp "$T_TMP/small.bin" "$MNT/c-small.bin" && cp "$T_TMP/big.bin" "$MNT/c-big.bin"
t_check "ssec: cp returns" "$?" 0
if wait_idle; then t_ok "ssec: status --wait"; else t_fail "ssec: status --wait" "$(status_json)"; fi
for f in c-small.bin c-big.bin; do
  V2H=()
  t_check "ssec: $f refused without the key" "$(s3v2 GET "$f" -o /dev/null -w '%{http_code}')" 400
  ssec_headers "$T_TMP/ssec.key"
  t_check "ssec: $f with the key" "$(s3v2 GET "$f" -o "$T_TMP/got" -w '%{http_code}')" 200
  if cmp -s "$T_TMP/got" "$T_TMP/${f#c-}"; then t_ok "ssec: $f identical"; else t_fail "ssec: $f identical" "differs"; fi
done
# a fresh mount reads them through the mount (no cached bytes)
m_umount "$MNT"
m_mount "$MNT" -o "sse_c_key_file=$T_TMP/ssec.key" || t_abort "ssec remount failed"
if cmp -s "$MNT/c-big.bin" "$T_TMP/big.bin"; then t_ok "ssec: read through the mount"; else t_fail "ssec: read through the mount" "differs"; fi
mv "$MNT/c-small.bin" "$MNT/c-moved.bin"
V2H=()
t_check "ssec: renamed object still needs the key" "$(s3v2 GET c-moved.bin -o /dev/null -w '%{http_code}')" 400
ssec_headers "$T_TMP/ssec.key"
s3v2 GET c-moved.bin -o "$T_TMP/got" >/dev/null
if cmp -s "$T_TMP/got" "$T_TMP/small.bin"; then t_ok "ssec: renamed object identical"; else t_fail "ssec: renamed object identical" "differs"; fi
key_b64=$(base64 -w0 <"$T_TMP/ssec.key")
t_check "ssec: the key is not in the log" "$(grep -cF -- "$key_b64" "$M_LOG")" 0
m_umount "$MNT"
chmod 644 "$T_TMP/ssec.key"
"$BIN" "$S3_BUCKET" "$MNT" -f -o "$(m_opts),sse_c_key_file=$T_TMP/ssec.key" >"$T_TMP/open.out" 2>&1
t_check "ssec: a key file open to others stops the mount" "$?/$(grep -c 'chmod 600' "$T_TMP/open.out")" 1/1
t_check "ssec: nothing mounted" "$(m_is_mounted "$MNT" && echo mounted)" ""

t_summary
