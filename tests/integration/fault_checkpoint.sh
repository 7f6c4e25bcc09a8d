#!/usr/bin/env bash
# fault_checkpoint.sh - a damaged checkpoint store and staging files changed
# behind bucketfs's back, over Ceph RGW. Uploads are kept pending by mounting
# through tests/tools/faultproxy.js answering every PUT/POST 503 and
# unmounting with unmount_grace=0 (the state dir is per endpoint, so every
# mount of one cache goes through the same proxy; its faults are switched off
# through its control endpoint when the files should upload).
#   1. data.mdb truncated, then (second round) overwritten with garbage, while
#      files are pending: status and the next mount fail with one clear line
#      naming data.mdb and `bucketfs recover`, no mount is left; the command
#      the message prints works as printed; `bucketfs recover --cache-dir DIR`
#      keeps the damaged store aside and names every staged file the next mount
#      uploads (their closed marks carry them), and the next mount uploads them
#      all byte-identical (s3curl + cmp).
#   2. staging files rewritten (same size, new mtime) or truncated between
#      mounts are never uploaded as the closed version: they move to the failed
#      table, status shows them, the object in the bucket keeps its old content,
#      and an untouched pending file still uploads.
# Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
with_server rgw || t_abort "cannot start rgw"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"
# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

start_proxy || t_abort "faultproxy did not start"
# uploads_blocked / uploads_open: every PUT and POST of a *.bin key answered 503
# (directory markers still go through: mkdir is synchronous), or no fault
uploads_blocked() {
  curl -sS --max-time 10 -X POST "$PX/__fault/config?reset=1" -d '{"p503":100,"match":"^(PUT|POST) [^?]*\\.bin"}' >/dev/null
}
uploads_open() { curl -sS --max-time 10 -X POST "$PX/__fault/config?reset=1" -d '{}' >/dev/null; }
MNT=$T_TMP/mnt
CACHE=$T_TMP/cache
# mount / status / cmp helpers; the mount always goes through the proxy
pmount() { S3_ENDPOINT=$PX m_mount "$MNT" -o part_size=5,unmount_grace=0; }
st() { "$BIN" status --cache-dir "$CACHE" "$@"; }
npending() { st --json 2>/dev/null | grep -o '"key":' | wc -l; }
bucket_same() {
  rm -f "$T_TMP/got"
  s3curl GET "$1" -o "$T_TMP/got" -f 2>/dev/null && cmp -s "$T_TMP/got" "$2"
}
# write_pending ROUND: writes 6 files through a mount whose uploads all fail,
# unmounts with unmount_grace=0; the files stay staged
write_pending() {
  local r=$1 i
  uploads_blocked
  pmount || t_abort "mount failed (round $r)"
  mkdir -p "$MNT/r$r" || t_fail "round $r: mkdir"
  for i in 1 2 3 4 5 6; do
    head -c $(((i % 3) * 5 * 1048576 + i * 1000)) /dev/urandom >"$T_TMP/r$r-f$i"
    cp "$T_TMP/r$r-f$i" "$MNT/r$r/f$i.bin" || t_fail "round $r: cp f$i"
  done
  sleep 1
  m_umount "$MNT"
  t_check "round $r: 6 files pending after the unmount" "$(npending)" 6
  for i in 1 2 3 4 5 6; do
    [ "$(s3_status HEAD "r$r/f$i.bin")" = 404 ] || t_fail "round $r: f$i.bin already uploaded" "the setup is broken"
  done
}
# damaged_round ROUND HOW: damage data.mdb with HOW (a command on the path), then
# check the messages, recover and the upload of all 6 files
damaged_round() {
  local r=$1 how=$2 sd mdb rc line cmd i ok
  write_pending "$r"
  sd=$(ls -d "$CACHE/$S3_BUCKET"-* | head -n 1)
  mdb=$sd/checkpoint/data.mdb
  cp -r "$sd/staging" "$T_TMP/staging-before-$r"
  eval "$how \"\$mdb\""
  st >"$T_TMP/st.out" 2>"$T_TMP/st.err"
  rc=$?
  if [ "$rc" != 0 ] && grep -qF "$mdb" "$T_TMP/st.err" && grep -q 'bucketfs recover' "$T_TMP/st.err"; then
    t_ok "round $r ($how): status names data.mdb and bucketfs recover"
  else
    t_fail "round $r: status on a damaged store" "rc=$rc $(head -c 300 "$T_TMP/st.err")"
  fi
  uploads_open
  S3_ENDPOINT=$PX timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -o "$(S3_ENDPOINT=$PX m_opts)" >"$T_TMP/m.out" 2>"$T_TMP/m.err"
  rc=$?
  line=$(cat "$T_TMP/m.err")
  echo "  mount: $line"
  if [ "$rc" = 1 ] || [ "$rc" = 2 ]; then t_ok "round $r: mount fails (exit $rc)"; else t_fail "round $r: mount exit" "$rc"; fi
  t_check "round $r: mount says it in one line" "$(wc -l <"$T_TMP/m.err")" 1
  if grep -qF "$mdb" <<<"$line" && grep -q 'bucketfs recover' <<<"$line" && grep -q 'damaged' <<<"$line"; then
    t_ok "round $r: the message names data.mdb, says damaged, and names bucketfs recover"
  else
    t_fail "round $r: mount message" "$line"
  fi
  if m_is_mounted "$MNT"; then
    t_fail "round $r: no mount left"
    fusermount3 -u "$MNT"
  else
    t_ok "round $r: no mount left"
  fi
  diff -r "$T_TMP/staging-before-$r" "$sd/staging" >/dev/null && t_ok "round $r: the failed mount left staging alone" ||
    t_fail "round $r: staging changed by the failed mount"
  # the command the message prints must work as printed; then the documented form
  cmd=$(sed -n 's/.*`\(bucketfs recover [^`]*\)`.*/\1/p' <<<"$line")
  if [ -n "$cmd" ]; then
    echo "  running, as printed: $cmd"
    # shellcheck disable=SC2086
    "$BIN" ${cmd#bucketfs } >"$T_TMP/rec.out" 2>&1
    rc=$?
    sed 's/^/  recover: /' "$T_TMP/rec.out"
    t_check "round $r: the printed recover command works as printed" "$rc" 0
  else
    t_fail "round $r: the message prints a recover command" "$line"
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    echo "  running: bucketfs recover --cache-dir $CACHE"
    "$BIN" recover --cache-dir "$CACHE" >"$T_TMP/rec.out" 2>&1
    rc=$?
    sed 's/^/  recover: /' "$T_TMP/rec.out"
    t_check "round $r: bucketfs recover --cache-dir DIR exits 0" "$rc" 0
  fi
  t_check "round $r: recover names the 6 files the next mount uploads" "$(grep -c '^will upload ' "$T_TMP/rec.out")" 6
  if ls "$sd/checkpoint"/data.mdb.damaged-* >/dev/null 2>&1; then t_ok "round $r: the damaged store is kept aside"; else
    t_fail "round $r: damaged store kept" "$(ls "$sd/checkpoint")"
  fi
  t_check "round $r: status after recover: 6 pending" "$(npending)" 6
  pmount || t_abort "mount after recover failed (round $r)"
  st --wait --timeout 120 >/dev/null || t_fail "round $r: status --wait" "still pending"
  ok=0
  for i in 1 2 3 4 5 6; do
    if bucket_same "r$r/f$i.bin" "$T_TMP/r$r-f$i"; then ok=$((ok + 1)); else echo "  r$r/f$i.bin missing or different"; fi
  done
  t_check "round $r: all 6 files byte-identical in the bucket" "$ok" 6
  t_check "round $r: nothing pending or failed" "$(st --json | grep -o '"pending":\[\],"failed":\[\]')" \
    '"pending":[],"failed":[]'
  t_check "round $r: staging emptied" "$(find "$sd/staging" -type f | wc -l)" 0
  m_umount "$MNT"
}

damaged_round 1 "truncate -s 8192"
garbage() { head -c "$(stat -c %s "$1")" /dev/urandom | dd of="$1" conv=notrunc status=none; }
damaged_round 2 garbage

# --- 2. staging files changed between mounts ------------------------------------------
head -c 3000000 /dev/urandom >"$T_TMP/old-a"
head -c 4000 /dev/urandom >"$T_TMP/old-b"
t_check "put the old version of chg/a.bin" "$(s3_status PUT chg/a.bin -T "$T_TMP/old-a")" 200
t_check "put the old version of chg/b.bin" "$(s3_status PUT chg/b.bin -T "$T_TMP/old-b")" 200
uploads_blocked
pmount || t_abort "mount failed"
mkdir -p "$MNT/chg" 2>/dev/null
head -c 12000000 /dev/urandom >"$T_TMP/new-a"
head -c 6000 /dev/urandom >"$T_TMP/new-b"
head -c 7000 /dev/urandom >"$T_TMP/new-c"
cp "$T_TMP/new-a" "$MNT/chg/a.bin" && cp "$T_TMP/new-b" "$MNT/chg/b.bin" && cp "$T_TMP/new-c" "$MNT/chg/c.bin" ||
  t_fail "cp into chg/"
sleep 1
m_umount "$MNT"
t_check "3 files pending" "$(npending)" 3
sd=$(ls -d "$CACHE/$S3_BUCKET"-* | head -n 1)
# staging_of KEY: the staging data file of KEY (from status --json)
staging_of() {
  st --json | node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const p of s.pending) if (p.key === process.argv[1]) console.log(p.staging_path);' "$1"
}
sa=$(staging_of chg/a.bin)
sb=$(staging_of chg/b.bin)
[ -f "$sa" ] && [ -f "$sb" ] || t_abort "staging files not found ($sa, $sb)"
sleep 1.1 # a visibly newer mtime
# a.bin: same size, different bytes in the middle; b.bin: cut short
head -c 100000 /dev/urandom | dd of="$sa" bs=1 seek=5000000 conv=notrunc status=none
truncate -s 3000 "$sb"
cp "$sa" "$T_TMP/changed-a"
uploads_open
pmount || t_abort "mount after the change failed"
st --wait --timeout 120 >/dev/null
st --json >"$T_TMP/st.json"
st >"$T_TMP/st.txt" 2>&1
m_umount "$MNT"
failed=$(node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(s.failed.map((f) => f.key).sort().join(" "));' "$T_TMP/st.json")
t_check "both changed files are in the failed table" "$failed" "chg/a.bin chg/b.bin"
if grep -q 'chg/a.bin' "$T_TMP/st.txt" && grep -q 'chg/b.bin' "$T_TMP/st.txt"; then
  t_ok "status (text) shows the failed files"
else
  t_fail "status shows the failed files" "$(head -c 400 "$T_TMP/st.txt")"
fi
echo "  status: $(grep -A2 'chg/a.bin' "$T_TMP/st.txt" | head -n 3 | tr '\n' ' ')"
bucket_same chg/a.bin "$T_TMP/old-a" && t_ok "chg/a.bin in the bucket is still the old version" ||
  { cmp -s "$T_TMP/got" "$T_TMP/changed-a" && t_fail "chg/a.bin" "the CHANGED staging bytes were uploaded" ||
    t_fail "chg/a.bin" "neither old nor changed"; }
bucket_same chg/b.bin "$T_TMP/old-b" && t_ok "chg/b.bin in the bucket is still the old version" ||
  t_fail "chg/b.bin" "not the old version ($(stat -c %s "$T_TMP/got" 2>/dev/null) bytes)"
bucket_same chg/c.bin "$T_TMP/new-c" && t_ok "the untouched chg/c.bin uploaded" || t_fail "chg/c.bin" "missing or different"
t_check "no multipart upload left open" \
  "$(S3_QUERY=$(s3_query uploads) s3curl GET "" | grep -o '<UploadId>' | wc -l)" 0
t_summary
