#!/usr/bin/env bash
# store_s3rver_published.sh - s3rver 3.7.1 exactly as published on npm (the
# shared tests/node_modules copy is patched by scripts/deps.sh; this test
# installs the lockfile's tarballs again into its temp dir, from the npm cache
# when it has them), checked with curl:
#   - what bucketfs learns of it: no flexible checksums (Content-MD5 is sent;
#     s3rver does not check it either, so the ETag check is what protects);
#   - kill -9 while three files are completing (the fault proxy delays each
#     CompleteMultipartUpload and loses its answer: s3rver did complete them):
#     the objects are in the bucket byte for byte, s3rver gives each the plain
#     MD5 of the whole object as its ETag (no "-N"), and after the remount no
#     part is sent again and every file ends confirmed.
# "Ends confirmed": after a Complete that keeps failing (s3rver answers a
# repeated one with 500) the uploader asks store::verify_object, which
# decides by size + the whole file's MD5 here.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
command -v npm >/dev/null || t_abort "npm missing (scripts/deps.sh)"

# --- s3rver as published, in a private server ---
PUB=$T_TMP/published
mkdir -p "$PUB"
cp "$BUCKETFS_ROOT/tests/package.json" "$BUCKETFS_ROOT/tests/package-lock.json" "$PUB/"
(cd "$PUB" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) >"$T_TMP/npm.out" 2>&1 ||
  t_abort "npm ci of the published s3rver failed: $(tail -n 3 "$T_TMP/npm.out")"
t_check "s3rver is the published one (no bucketfs patch)" \
  "$(grep -c bucketfs "$PUB/node_modules/s3rver/lib/middleware/authentication.js")" 0
t_check "s3rver version" "$(node -p "require('$PUB/node_modules/s3rver/package.json').version")" 3.7.1
SRV=$T_TMP/srv
t_cleanup_push t_quietly "$BUCKETFS_ROOT/tests/servers/stop-s3rver.sh" "$SRV"
S3RVER_MODULES=$PUB/node_modules "$BUCKETFS_ROOT/tests/servers/start-s3rver.sh" "$SRV" >/dev/null 2>"$T_TMP/srv.err" ||
  t_abort "cannot start the published s3rver: $(tail -n 3 "$T_TMP/srv.err")"
t_load_env "$SRV/env"

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"
export M_SIGV=4 # the published s3rver refuses every V2 signature (the bug deps.sh patches)
MNT=$T_TMP/mnt
MIB=$((1024 * 1024))
B=$(s3_encode "$S3_BUCKET")
FILES=(a.bin b.bin c.bin)

# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"
start_proxy --match 'POST .*uploadId=' --reset-resp 100 --delay-max 1500 || t_abort "faultproxy did not start: $(cat "$T_TMP/proxy.stderr")"

m_mount "$MNT" -o "url=$PX,part_size=5,upload_concurrency=6" ||
  t_abort "mount through the proxy failed"
mark=$(t_log_mark)
for f in "${FILES[@]}"; do
  head -c $((11 * MIB)) /dev/urandom >"$T_TMP/$f"
  cp "$T_TMP/$f" "$MNT/$f" || t_fail "cp $f"
done
# until the Complete of each file reached s3rver and its answer was lost
lost() { grep 'reset-resp' "$PX_LOG" 2>/dev/null | grep -o "POST /$B/[a-c]\.bin" | sort -u | wc -l; }
for _ in $(seq 1 1200); do [ "$(lost)" -ge 3 ] && break; sleep 0.1; done
pid=$(cat "$T_TMP/pid.$(basename "$MNT")")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
fusermount3 -u -z "$MNT"
t_check "kill: the Complete of all three reached s3rver, answers lost" "$(lost)" 3
pending=0
for f in "${FILES[@]}"; do [ "$(st_get "$f" key)" = "$f" ] && pending=$((pending + 1)); done
t_check "kill: all three records still pending" "$pending" 3
t_check "learnt: s3rver does not verify flexible checksums" "$(grep -c 'does not verify flexible checksums' "$M_LOG")" 1

# What s3rver holds: the whole objects, with the plain MD5 as their ETag.
for f in "${FILES[@]}"; do
  same_in_bucket "s3rver holds $f" "$f" "$T_TMP/$f"
  s3_status HEAD "$f" >/dev/null
  t_check "s3rver: $f ETag is the plain MD5 of the object" "$(s3_header etag | tr -d '"')" \
    "$(md5sum <"$T_TMP/$f" | cut -d' ' -f1)"
done

# The same endpoint (the proxy, its faults off): the cache's state belongs to an endpoint.
t_check "proxy: faults off" "$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{}' "$PX/__fault/config?reset=1")" 200
m1=$(t_log_mark)
m_mount "$MNT" -o "url=$PX,part_size=5" || t_abort "remount failed"
if wait_idle 60; then
  t_ok "remount: every file confirmed"
else
  t_fail "remount: every file confirmed" "$(status_json)"
fi
t_check "remount: no part sent again" "$(t_log_count "$m1" "\"PUT /$B/[a-c]\\.bin\\?partNumber=")" 0
t_check "remount: no new upload" "$(t_log_count "$m1" "\"POST /$B/[a-c]\\.bin\\?uploads")" 0
for f in "${FILES[@]}"; do same_in_bucket "remount: $f still identical" "$f" "$T_TMP/$f"; done
t_check "first mount: 3 uploads" "$(t_log_count "$mark" "\"POST /$B/[a-c]\\.bin\\?uploads")" 3

t_summary
