#!/usr/bin/env bash
# fault_disk.sh - a full staging disk, over Ceph RGW. cache_dir lives on a
# 64 MiB tmpfs made here; uploads go through tests/tools/faultproxy.js with
# delays on PUT so closed files stay staged while the disk fills:
#   - files closed before the disk fills still upload, byte-identical;
#   - a write that does not fit fails with ENOSPC (dd says so, exits non-zero),
#     for a new file and for a second writer while the disk is full;
#   - nothing partial or torn is in the bucket: a file cut short by ENOSPC is
#     either absent or exactly the bytes the mount accepted, no multipart
#     upload is left open, and status shows nothing failed;
#   - once space is freed (rm of the big file in the mount, uploads drained)
#     the mount keeps working: new files upload byte-identical;
#   - ensure_diskfree=N refuses writes that would leave less than N MiB free.
# Needs root (mount -t tmpfs). Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
[ "$(id -u)" = 0 ] || t_abort "needs root to mount a tmpfs"
with_server rgw || t_abort "cannot start rgw"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"
# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

# bucket_same KEY FILE: the object equals FILE (through s3curl)
bucket_same() {
  rm -f "$T_TMP/got"
  s3curl GET "$1" -o "$T_TMP/got" -f 2>/dev/null && cmp -s "$T_TMP/got" "$2"
}
st() { "$BIN" status --cache-dir "$CACHE" "$@"; }

SMALL=$T_TMP/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=64m,mode=0700 bucketfs-test-tmpfs "$SMALL" || t_abort "cannot mount a tmpfs"
t_cleanup_push umount -l "$SMALL"
CACHE=$SMALL/cache
MNT=$T_TMP/mnt

start_proxy --seed 21 --delay-max 1500 --match '^PUT ' || t_abort "faultproxy did not start"
S3_ENDPOINT=$PX m_mount "$MNT" -o "cache_dir=$CACHE,ensure_diskfree=0,part_size=5,upload_concurrency=2" ||
  t_abort "mount failed"

# --- files closed before the disk fills ---------------------------------------------
for i in 1 2 3; do
  head -c $((i * 4 * 1048576 + i)) /dev/urandom >"$T_TMP/pre$i"
  cp "$T_TMP/pre$i" "$MNT/pre$i.bin" || t_fail "cp pre$i.bin" "before the disk is full"
done
staged=$(st --json | grep -o '"key":' | wc -l)
echo "  $staged of 3 closed files still staged when the big write starts"

# --- a write that does not fit -------------------------------------------------------
head -c $((100 * 1048576)) /dev/urandom >"$T_TMP/huge"
dd if="$T_TMP/huge" of="$MNT/huge.bin" bs=1M 2>"$T_TMP/dd.err"
rc=$?
if [ "$rc" != 0 ]; then t_ok "dd of 100 MiB onto a 64 MiB cache: exit $rc"; else t_fail "dd of 100 MiB: exit" 0; fi
if grep -q 'No space left on device' "$T_TMP/dd.err"; then t_ok "dd: ENOSPC"; else
  t_fail "dd: ENOSPC" "$(head -n 3 "$T_TMP/dd.err")"
fi
# a second writer while the disk is full
dd if="$T_TMP/huge" of="$MNT/second.bin" bs=1M count=20 2>"$T_TMP/dd2.err"
rc2=$?
if [ "$rc2" != 0 ] && grep -q 'No space left on device' "$T_TMP/dd2.err"; then t_ok "second writer while full: ENOSPC"; else
  t_fail "second writer while full" "rc=$rc2 $(head -n 2 "$T_TMP/dd2.err")"
fi
m_is_mounted "$MNT" && t_ok "mount alive when the disk is full" || t_abort "mount died when the disk filled"
for i in 1 2 3; do
  cmp -s "$T_TMP/pre$i" "$MNT/pre$i.bin" || t_fail "pre$i.bin reads back while full"
done

# the partial files: what the mount holds is a prefix of what dd sent
for f in huge second; do
  sz=$(stat -c %s "$MNT/$f.bin" 2>/dev/null || echo missing)
  echo "  $f.bin: $sz bytes in the mount"
  if [ "$sz" != missing ] && [ "$sz" -gt 0 ]; then
    cmp -s -n "$sz" "$T_TMP/huge" "$MNT/$f.bin" && t_ok "$f.bin: the accepted bytes are intact" ||
      t_fail "$f.bin: accepted bytes" "differ from what dd wrote"
  fi
done

# --- the closed files upload; nothing torn ------------------------------------------
st --wait --timeout 180 >/dev/null || t_fail "status --wait" "uploads did not drain"
for i in 1 2 3; do
  bucket_same "pre$i.bin" "$T_TMP/pre$i" && t_ok "pre$i.bin (closed before the disk filled): in the bucket" ||
    t_fail "pre$i.bin" "missing or different in the bucket"
done
for f in huge second; do
  code=$(s3_status GET "$f.bin")
  if [ "$code" = 404 ]; then
    t_ok "$f.bin: not in the bucket"
  elif [ "$code" = 200 ] && cmp -s "$T_TMP/body" "$MNT/$f.bin" &&
    cmp -s -n "$(stat -c %s "$T_TMP/body")" "$T_TMP/body" "$T_TMP/huge"; then
    t_ok "$f.bin: in the bucket exactly as the mount accepted it ($(stat -c %s "$T_TMP/body") bytes)"
  else
    t_fail "$f.bin in the bucket" "HTTP $code, $(stat -c %s "$T_TMP/body" 2>/dev/null) bytes, not what the mount holds"
  fi
done
t_check "status: nothing failed" "$(st --json | grep -o '"failed":\[[^]]*\]')" '"failed":[]'

# --- free space, keep working ---------------------------------------------------------
rm -f "$MNT/huge.bin" "$MNT/second.bin" || t_fail "rm the partial files"
st --wait --timeout 120 >/dev/null
echo "  cache after freeing: $(df -m --output=avail "$SMALL" | tail -n 1) MiB free"
t_check "huge.bin gone from the bucket after rm" "$(s3_status HEAD huge.bin)" 404
t_check "second.bin gone from the bucket after rm" "$(s3_status HEAD second.bin)" 404
head -c $((30 * 1048576)) /dev/urandom >"$T_TMP/after"
if dd if="$T_TMP/after" of="$MNT/after.bin" bs=1M 2>"$T_TMP/dd3.err"; then t_ok "a 30 MiB write after freeing space"; else
  t_fail "write after freeing space" "$(tail -n 1 "$T_TMP/dd3.err")"
fi
for i in 1 2 3 4 5; do head -c $((i * 100000)) "$T_TMP/after" >"$MNT/small$i.bin" || t_fail "small$i.bin after freeing"; done
st --wait --timeout 180 >/dev/null
bucket_same after.bin "$T_TMP/after" && t_ok "after.bin: in the bucket" || t_fail "after.bin" "missing or different"
ok=0
for i in 1 2 3 4 5; do
  head -c $((i * 100000)) "$T_TMP/after" >"$T_TMP/s"
  bucket_same "small$i.bin" "$T_TMP/s" && ok=$((ok + 1))
done
t_check "5 small files after freeing: in the bucket" "$ok" 5
t_check "staging empty once all uploaded" "$(find "$CACHE" -path '*/staging/*' -type f | wc -l)" 0
m_umount "$MNT"
t_check "no multipart upload left open" "$(open_uploads)" 0

# --- ensure_diskfree: a reserve is kept ------------------------------------------------
M_LOG=$T_TMP/bucketfs2.log m_mount "$MNT" -o "cache_dir=$CACHE,ensure_diskfree=40" || t_abort "second mount failed"
dd if="$T_TMP/huge" of="$MNT/reserve.bin" bs=1M count=40 2>"$T_TMP/dd4.err"
rc=$?
avail=$(df -m --output=avail "$SMALL" | tail -n 1)
if [ "$rc" != 0 ] && grep -q 'No space left on device' "$T_TMP/dd4.err"; then
  t_ok "ensure_diskfree=40: a 40 MiB write fails with ENOSPC ($avail MiB still free)"
else
  t_fail "ensure_diskfree=40" "rc=$rc $(tail -n 1 "$T_TMP/dd4.err")"
fi
if [ "$avail" -ge 30 ]; then t_ok "ensure_diskfree=40: the reserve was kept"; else t_fail "reserve kept" "$avail MiB free"; fi
rm -f "$MNT/reserve.bin"
head -c 1000000 "$T_TMP/after" >"$T_TMP/s"
cp "$T_TMP/s" "$MNT/fits.bin" && t_ok "ensure_diskfree=40: a 1 MB file still fits" || t_fail "1 MB file under ensure_diskfree"
st --wait --timeout 60 >/dev/null
bucket_same fits.bin "$T_TMP/s" && t_ok "fits.bin in the bucket" || t_fail "fits.bin" "missing or different"
t_check "reserve.bin not in the bucket" "$(s3_status HEAD reserve.bin)" 404
m_umount "$MNT"
grep -qE 'terminate called|Segmentation|Aborted' "$M_LOG" "$T_TMP/bucketfs2.log" && t_fail "no crash in the logs"
t_summary
