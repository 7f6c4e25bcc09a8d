#!/usr/bin/env bash
# write_basic.sh - writing through the mount, checked in the bucket with
# curl --aws-sigv4 + cmp (never through the mount): cp of 0 B, 1 B,
# part_size-1, part_size, part_size+1 and 100 MiB (single PUT below a part,
# multipart above, part counts from the server's log); random writes, holes,
# truncate and appends into existing objects (dd conv=notrunc, >>); overwrite of
# an object put by curl; and, with part PUTs slowed down by
# tests/tools/faultproxy.js so that files stay pending: a pending file in ls
# with its real size and in `bucketfs status`, rename of a pending file (only
# the new key appears), unlink of a pending file (never appears, its multipart
# upload aborted where the server can list them), fsync waiting for the bucket.
# Server: WRITE_SERVER=rgw (default) or s3rver (write_basic_s3rver.sh; sigv=2,
# no ListMultipartUploads/abort checks there).
# shellcheck disable=SC2010,SC2012 # ls through the mount is what these checks test
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

WRITE_SERVER=${WRITE_SERVER:-rgw}
BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
command -v node >/dev/null || t_abort "node missing (needed for tests/tools/faultproxy.js)"
with_server "$WRITE_SERVER" || t_abort "cannot start $WRITE_SERVER"

t_cleanup_push t_empty_bucket  # the shared RGW must not fill up

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
MIB=$((1024 * 1024))
P=$((5 * MIB)) # part_size=5 below
B=$(s3_encode "$S3_BUCKET")

# --- the fault proxy between bucketfs and the server (no faults until told) ---
node "$BUCKETFS_ROOT/tests/tools/faultproxy.js" --upstream "$S3_ENDPOINT" --port-file "$T_TMP/px.port" \
  --log "$T_TMP/px.log" >>"$T_TMP/px.err" 2>&1 &
PX_PID=$!
t_cleanup_push kill -TERM "$PX_PID"
for _ in $(seq 1 100); do [ -s "$T_TMP/px.port" ] && break; sleep 0.1; done
[ -s "$T_TMP/px.port" ] || t_abort "faultproxy did not start: $(cat "$T_TMP/px.err")"
PX=http://127.0.0.1:$(cat "$T_TMP/px.port")
# px_config JSON: replace the proxy's fault config
px_config() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X POST -d "$1" "$PX/__fault/config?reset=1"; }

# --- helpers ---
# part_puts MARK KEY: part PUT lines for KEY in the server's log after MARK
part_puts() { t_log_count "$1" "\"PUT /$B/$2\\?partNumber="; }
# open_uploads KEY: multipart uploads of KEY the server still lists (RGW only)
open_uploads() {
  S3_QUERY=$(s3_query uploads "prefix=$1") s3curl GET "" | grep -o '<Key>[^<]*</Key>' | grep -cxF "<Key>$1</Key>"
}

m_mount "$MNT" -o "url=$PX,part_size=5,upload_concurrency=4" || t_abort "mount failed"

# --- cp of the edge sizes and 100 MiB ---
mkdir -p "$T_TMP/src"
declare -A SIZES=([zero]=0 [one]=1 [pm1]=$((P - 1)) [p]=$P [pp1]=$((P + 1)) [big]=$((100 * MIB)))
for n in "${!SIZES[@]}"; do head -c "${SIZES[$n]}" /dev/urandom >"$T_TMP/src/$n.bin"; done
mark=$(t_log_mark)
mkdir "$MNT/cp"
ok=0
for n in zero one pm1 p pp1 big; do cp "$T_TMP/src/$n.bin" "$MNT/cp/$n.bin" && ok=$((ok + 1)); done
t_check "cp of 6 files returns 0" "$ok" 6
t_check "sizes in the mount" "$(stat -c %s "$MNT"/cp/{zero,one,pm1,p,pp1,big}.bin | tr '\n' ' ')" \
  "0 1 $((P - 1)) $P $((P + 1)) $((100 * MIB)) "
# cp, cat and dd size their buffers by st_blksize: one whole FUSE request.
t_check "stat's I/O size is 512 KiB" "$(stat -c %o "$MNT/cp/big.bin")" $((MIB / 2))
if wait_idle; then t_ok "status --wait: nothing pending"; else t_fail "status --wait" "still pending: $(status_json)"; fi
for n in zero one pm1 p pp1 big; do same_in_bucket "cp ${SIZES[$n]} B: bucket bytes" "cp/$n.bin" "$T_TMP/src/$n.bin"; done
s3_status HEAD cp/big.bin >/dev/null
t_check "100 MiB: Content-Length" "$(s3_header content-length)" $((100 * MIB))
t_check "0 B: single PUT" "$(t_log_count "$mark" "\"PUT /$B/cp/zero\\.bin HTTP")" 1
t_check "1 B: single PUT" "$(t_log_count "$mark" "\"PUT /$B/cp/one\\.bin HTTP")" 1
t_check "part_size-1: single PUT, no multipart" \
  "$(t_log_count "$mark" "\"PUT /$B/cp/pm1\\.bin HTTP")/$(t_log_count "$mark" "\"POST /$B/cp/pm1\\.bin\\?uploads")" 1/0
t_check "part_size+1: 2 part PUTs" "$(part_puts "$mark" 'cp/pp1\.bin')" 2
t_check "100 MiB: 20 part PUTs" "$(part_puts "$mark" 'cp/big\.bin')" 20
t_check "100 MiB: one multipart upload" "$(t_log_count "$mark" "\"POST /$B/cp/big\\.bin\\?uploads")" 1
s3_status HEAD cp/one.bin >/dev/null
t_check "metadata mode sent with the upload" "$(s3_header x-amz-meta-mode)" $((8#100644))
t_check "nothing in the failed table" "$(status_json | grep -o '"failed":\[[^]]*\]')" '"failed":[]'

# --- random writes, holes, truncate and appends into objects already in the bucket ---
head -c $((12 * MIB)) /dev/urandom >"$T_TMP/rw.bin"
printf 'first line\n' >"$T_TMP/app.txt"
cp "$T_TMP/rw.bin" "$MNT/rw.bin" && cp "$T_TMP/app.txt" "$MNT/app.txt"
wait_idle || t_fail "upload before random writes" "$(status_json)"
head -c 100000 /dev/urandom >"$T_TMP/patch"
# the same dd into the mount and into the local reference copy
both_dd() {
  local rc=0
  dd "$@" of="$MNT/rw.bin" conv=notrunc status=none || rc=1
  dd "$@" of="$T_TMP/rw.bin" conv=notrunc status=none
  return $rc
}
ok=0
both_dd if="$T_TMP/patch" bs=1000 seek=3 count=7 && ok=$((ok + 1))                     # inside part 1
both_dd if="$T_TMP/patch" bs=1 seek=$((P - 500)) count=1000 && ok=$((ok + 1))         # across a part edge
both_dd if="$T_TMP/patch" bs=4096 seek=$((9 * MIB / 4096)) count=20 && ok=$((ok + 1)) # in part 2
both_dd if="$T_TMP/patch" bs=1 seek=$((14 * MIB)) count=777 && ok=$((ok + 1))        # past EOF: a hole
t_check "dd conv=notrunc x4 into an uploaded object" "$ok" 4
t_check "size after the hole" "$(stat -c %s "$MNT/rw.bin")" "$(stat -c %s "$T_TMP/rw.bin")"
wait_idle || t_fail "upload after random writes" "$(status_json)"
same_in_bucket "random writes + hole: bucket bytes" rw.bin "$T_TMP/rw.bin"
truncate -s $((7 * MIB + 3)) "$MNT/rw.bin" && truncate -s $((7 * MIB + 3)) "$T_TMP/rw.bin"
wait_idle || t_fail "upload after truncate" "$(status_json)"
same_in_bucket "truncate to 7 MiB+3: bucket bytes" rw.bin "$T_TMP/rw.bin"
for i in 1 2 3; do
  echo "appended $i" >>"$MNT/app.txt"
  echo "appended $i" >>"$T_TMP/app.txt"
done
wait_idle || t_fail "upload after appends" "$(status_json)"
same_in_bucket "3 appends with >>: bucket bytes" app.txt "$T_TMP/app.txt"
head -c $((6 * MIB)) /dev/urandom | tee -a "$T_TMP/app.txt" >>"$MNT/app.txt"
wait_idle || t_fail "upload after a 6 MiB append" "$(status_json)"
same_in_bucket "6 MiB append (now multipart): bucket bytes" app.txt "$T_TMP/app.txt"

# --- overwrite of objects put by curl ---
head -c $((7 * MIB)) /dev/urandom >"$T_TMP/ow-old"
printf 'new' >"$T_TMP/ow-small"
head -c $((11 * MIB)) /dev/urandom >"$T_TMP/ow-big"
t_check "curl put ow/a" "$(s3_status PUT ow/a.bin -T "$T_TMP/ow-old")" 200
t_check "curl put ow/b" "$(s3_status PUT ow/b.bin --data-binary 'old small')" 200
cp "$T_TMP/ow-small" "$MNT/ow/a.bin" && cp "$T_TMP/ow-big" "$MNT/ow/b.bin"
t_check "cp over existing objects" "$?" 0
wait_idle || t_fail "upload of overwrites" "$(status_json)"
same_in_bucket "overwrite 7 MiB with 3 B: bucket bytes" ow/a.bin "$T_TMP/ow-small"
same_in_bucket "overwrite 9 B with 11 MiB: bucket bytes" ow/b.bin "$T_TMP/ow-big"
printf 'XY' | dd of="$MNT/ow/a.bin" bs=1 seek=1 conv=notrunc status=none
printf 'nXY' >"$T_TMP/ow-small2"
wait_idle || t_fail "upload of a patched overwrite" "$(status_json)"
same_in_bucket "patch of the overwritten object: bucket bytes" ow/a.bin "$T_TMP/ow-small2"

# --- pending files: slow every PUT through the proxy (up to 1.5 s each) ---
t_check "proxy: delay PUTs" "$(px_config '{"match":"^PUT ","delayMax":1500}')" 200
head -c $((40 * MIB)) /dev/urandom >"$T_TMP/pend.bin"

# visible in ls with its real size, and in status
cp "$T_TMP/pend.bin" "$MNT/pend.bin"
t_check "pending: ls -l size" "$(ls -l "$MNT" | awk '$NF == "pend.bin" { print $5 }')" $((40 * MIB))
t_check "pending: stat size" "$(stat -c %s "$MNT/pend.bin")" $((40 * MIB))
t_check "pending: listed by status" "$(st_get pend.bin size)/$(st_get pend.bin parts_total)" "$((40 * MIB))/8"
t_check "pending: not yet in the bucket" "$(s3_status HEAD pend.bin)" 404
t_check "pending: reads come from staging" "$(cmp "$T_TMP/pend.bin" "$MNT/pend.bin" 2>&1)" ""
wait_idle || t_fail "pending upload" "$(status_json)"
same_in_bucket "pending file once uploaded: bucket bytes" pend.bin "$T_TMP/pend.bin"

# rename of a pending file whose multipart upload has begun: only the new key
mark=$(t_log_mark)
cp "$T_TMP/pend.bin" "$MNT/ren-src.bin"
if wait_parts ren-src.bin 1; then t_ok "rename: source has parts done"; else t_fail "rename: source has parts done" "$(status_json)"; fi
mv "$MNT/ren-src.bin" "$MNT/ren-dst.bin"
t_check "rename pending: mv" "$?" 0
t_check "rename pending: new name in the mount" "$(ls "$MNT" | grep -c '^ren-')/$(stat -c %s "$MNT/ren-dst.bin")" "1/$((40 * MIB))"
wait_idle || t_fail "upload after rename" "$(status_json)"
same_in_bucket "rename pending: new key bytes" ren-dst.bin "$T_TMP/pend.bin"
t_check "rename pending: old key absent" "$(s3_status HEAD ren-src.bin)" 404
t_check "rename pending: old key never completed" "$(t_log_count "$mark" "\"POST /$B/ren-src\\.bin\\?uploadId=")" 0
if [ "$WRITE_SERVER" = rgw ]; then
  t_check "rename pending: no multipart upload left" "$(open_uploads ren-src.bin)/$(open_uploads ren-dst.bin)" 0/0
fi

# unlink of a pending file whose multipart upload has begun: never in the bucket
mark=$(t_log_mark)
cp "$T_TMP/pend.bin" "$MNT/unl.bin"
if wait_parts unl.bin 1; then t_ok "unlink: parts done before rm"; else t_fail "unlink: parts done before rm" "$(status_json)"; fi
rm "$MNT/unl.bin"
t_check "unlink pending: rm" "$?" 0
t_check "unlink pending: gone from the mount" "$(ls "$MNT" | grep -c '^unl\.bin$')" 0
t_check "unlink pending: gone from status" "$(st_get unl.bin key)" ""
# a small pending file (single PUT path), unlinked at once
printf 'short lived' >"$MNT/unl-small.txt" && rm "$MNT/unl-small.txt"
wait_idle || t_fail "idle after unlink" "$(status_json)"
sleep 2
t_check "unlink pending: key never appears" "$(s3_status HEAD unl.bin)" 404
t_check "unlink pending: small key never appears" "$(s3_status HEAD unl-small.txt)" 404
t_check "unlink pending: upload never completed" "$(t_log_count "$mark" "\"POST /$B/unl\\.bin\\?uploadId=")" 0
if [ "$WRITE_SERVER" = rgw ]; then
  t_check "unlink pending: multipart upload aborted" "$(t_log_count "$mark" "\"DELETE /$B/unl\\.bin\\?uploadId=")" 1
  t_check "unlink pending: no multipart upload left" "$(open_uploads unl.bin)" 0
fi

# fsync waits for the bucket: dd conv=fsync, then check at once (PUTs still slowed)
head -c $((12 * MIB)) /dev/urandom >"$T_TMP/fs.bin"
dd if="$T_TMP/fs.bin" of="$MNT/fs.bin" bs=1M conv=fsync status=none
t_check "fsync: dd conv=fsync exit" "$?" 0
same_in_bucket "fsync 12 MiB: complete in the bucket when fsync returns" fs.bin "$T_TMP/fs.bin"
printf 'small fsync\n' >"$T_TMP/fs-small.txt"
dd if="$T_TMP/fs-small.txt" of="$MNT/fs-small.txt" conv=fsync status=none
t_check "fsync small: dd exit" "$?" 0
same_in_bucket "fsync small (single PUT): in the bucket when fsync returns" fs-small.txt "$T_TMP/fs-small.txt"
t_check "proxy: faults off" "$(px_config '{}')" 200

# --- after a remount the written files are read back from the bucket ---
m_umount "$MNT"
m_mount "$MNT" -o "url=$PX,part_size=5" || t_abort "remount failed"
t_check "remount: nothing pending" "$(status_json | grep -o '"pending":\[\]')" '"pending":[]'
t_check "remount: ls" "$(ls "$MNT" | tr '\n' ' ')" "app.txt cp fs-small.txt fs.bin ow pend.bin ren-dst.bin rw.bin "
t_check "remount: read 100 MiB back" "$(cmp "$T_TMP/src/big.bin" "$MNT/cp/big.bin" 2>&1)" ""

t_summary
