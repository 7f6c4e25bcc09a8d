#!/usr/bin/env bash
# write_resume.sh - resume of parted uploads across mounts, over Ceph RGW,
# checked in the bucket with curl --aws-sigv4 + cmp and counted in RGW's access
# log:
#   - kill -9 of the daemon when about half of a 200 MiB upload's parts are
#     done, fusermount3 -u -z, remount, status --wait: the object is identical
#     and no more part PUTs follow the remount than the parts that were missing
#     (in-flight ones included), on the same multipart upload;
#   - a clean fusermount3 -u mid-upload (unmount_grace=1): exit 0, the record
#     stays pending, the remount finishes it with only the missing parts;
#   - `bucketfs uploads` lists an upload no record knows (made with curl) as
#     unknown, and the one a pending record owns as pending; --abort-orphans
#     --older-than 0 aborts only the unknown one (security_uploads.sh has more);
#   - a multipart upload aborted behind bucketfs's back while unmounted is
#     detected at resume and restarted from part 1 (object still identical);
#   - two mounts on one cache dir: the second refuses with a clear line.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
with_server rgw || t_abort "cannot start rgw"

t_cleanup_push t_empty_bucket  # the shared RGW must not fill up

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
MIB=$((1024 * 1024))
B=$(s3_encode "$S3_BUCKET")
CONC=2
# slow enough (5 MiB parts, 2 at a time) to stop it half way
MOPTS=(-o "part_size=5,upload_concurrency=$CONC,unmount_grace=1")

# --- helpers ---
# part_puts MARK KEY_ERE: part PUT lines for the key in RGW's log after MARK
part_puts() { t_log_count "$1" "\"PUT /$B/$2\\?partNumber="; }
# upload_ids KEY: the multipart upload ids RGW lists for KEY, one a line
upload_ids() {
  S3_QUERY=$(s3_query uploads "prefix=$1") s3curl GET "" |
    grep -o '<Key>[^<]*</Key><UploadId>[^<]*' | grep -F "<Key>$1</Key>" | sed 's/.*<UploadId>//'
}
# le NAME GOT MAX: GOT <= MAX
t_le() { if [ "$2" -le "$3" ]; then t_ok "$1 ($2 <= $3)"; else t_fail "$1" "$2 > $3"; fi; }
daemon_pid() { cat "$T_TMP/pid.$(basename "$MNT")"; }
kill9() {
  kill -KILL "$(daemon_pid)"
  wait "$(daemon_pid)" 2>/dev/null
  fusermount3 -u -z "$MNT"
}
# stop_half KEY PARTS: wait until about half of KEY's PARTS are done
stop_half() { wait_parts "$1" $(($2 / 2)); }

head -c $((200 * MIB)) /dev/urandom >"$T_TMP/k.bin"
TOTAL=40

# ================= kill -9 half way through a 200 MiB upload =================
m_mount "$MNT" "${MOPTS[@]}" || t_abort "mount failed"
m0=$(t_log_mark)
cp "$T_TMP/k.bin" "$MNT/kill.bin"
t_check "kill: cp returns" "$?" 0
if stop_half kill.bin $TOTAL; then t_ok "kill: half of the parts done"; else t_fail "kill: half of the parts done" "$(status_json)"; fi
kill9
t_check "kill: nothing mounted after kill -9 + fusermount3 -u -z" "$(m_is_mounted "$MNT" && echo mounted)" ""
done_k=$(st_get kill.bin parts_done)
id_k=$(st_get kill.bin upload_id)
before=$(part_puts "$m0" 'kill\.bin')
echo "     (kill -9 with $done_k/$TOTAL parts recorded, $before part PUTs seen by RGW)"
if [ "${done_k:-0}" -gt 0 ] && [ "${done_k:-0}" -lt $TOTAL ]; then t_ok "kill: record says $done_k/$TOTAL parts done"; else t_fail "kill: record mid-upload" "parts_done '$done_k'"; fi
t_check "kill: upload id recorded and open on RGW" "$(upload_ids kill.bin)" "$id_k"
t_check "kill: not yet in the bucket" "$(s3_status HEAD kill.bin)" 404

m1=$(t_log_mark)
m_mount "$MNT" "${MOPTS[@]}" || t_abort "remount after kill -9 failed"
if wait_idle; then t_ok "kill: status --wait after the remount"; else t_fail "kill: status --wait" "$(status_json)"; fi
same_in_bucket "kill: object identical" kill.bin "$T_TMP/k.bin"
after=$(part_puts "$m1" 'kill\.bin')
t_le "kill: part PUTs after the remount <= parts missing" "$after" $((TOTAL - done_k))
t_le "kill: part PUTs in all <= parts + those in flight" $((before + after)) $((TOTAL + CONC))
t_check "kill: resumed the same multipart upload" \
  "$(t_log_count "$m1" "\"POST /$B/kill\\.bin\\?uploads")/$(t_log_count "$m1" "\"PUT /$B/kill\\.bin\\?partNumber=[0-9]+&uploadId=$(s3_encode "$id_k" "")")" \
  "0/$after"
t_check "kill: no multipart upload left" "$(upload_ids kill.bin | wc -l)" 0

# ================= clean unmount mid-upload (unmount_grace=1) =================
m0=$(t_log_mark)
cp "$T_TMP/k.bin" "$MNT/clean.bin"
if stop_half clean.bin $TOTAL; then t_ok "umount: half of the parts done"; else t_fail "umount: half of the parts done" "$(status_json)"; fi
pid=$(daemon_pid)
t0=$SECONDS
fusermount3 -u "$MNT"
wait "$pid"
t_check "umount: daemon exit status" "$?" 0
t_le "umount: daemon gone within grace + 5 s" $((SECONDS - t0)) 6
done_c=$(st_get clean.bin parts_done)
id_c=$(st_get clean.bin upload_id)
before=$(part_puts "$m0" 'clean\.bin')
echo "     (unmounted with $done_c/$TOTAL parts recorded, $before part PUTs seen by RGW)"
if [ "${done_c:-0}" -gt 0 ] && [ "${done_c:-0}" -lt $TOTAL ]; then t_ok "umount: record pending with $done_c/$TOTAL parts"; else t_fail "umount: record mid-upload" "parts_done '$done_c'"; fi
# parts still in flight when the 1 s grace ran out may be stored but unrecorded
t_le "umount: parts RGW saw beyond the record <= those in flight" $((before - done_c)) $CONC
t_check "umount: not yet in the bucket" "$(s3_status HEAD clean.bin)" 404

# ================= orphans: an upload no record owns =================
code=$(S3_QUERY=$(s3_query uploads) s3_status POST orphan.bin)
t_check "orphan: create a multipart upload with curl" "$code" 200
id_o=$(grep -o '<UploadId>[^<]*' "$T_TMP/body" | sed 's/<UploadId>//')
head -c $((5 * MIB)) /dev/urandom >"$T_TMP/part"
t_check "orphan: upload part 1 with curl" \
  "$(S3_QUERY=$(s3_query partNumber=1 "uploadId=$id_o") s3_status PUT orphan.bin -T "$T_TMP/part")" 200
"$BIN" uploads "$S3_BUCKET" -o "$(m_opts)" >"$T_TMP/uploads.out" 2>&1
t_check "uploads: exit" "$?" 0
sed 's/^/     | /' "$T_TMP/uploads.out"
t_check "uploads: the curl upload is unknown" \
  "$(grep -F -- "$id_o" "$T_TMP/uploads.out" | grep -c -w unknown)" 1
if grep -qF -- "$id_c" "$T_TMP/uploads.out"; then t_ok "uploads: lists the owned upload"; else t_fail "uploads: lists the owned upload" "$id_c missing"; fi
t_check "uploads: the owned upload is pending" \
  "$(grep -F -- "$id_c" "$T_TMP/uploads.out" | grep -c -w pending)" 1
"$BIN" uploads "$S3_BUCKET" -o "$(m_opts)" --abort-orphans --older-than 0 >"$T_TMP/uploads.out" 2>&1
t_check "uploads --abort-orphans: exit" "$?" 0
sed 's/^/     | /' "$T_TMP/uploads.out"
t_check "uploads --abort-orphans: orphan gone from RGW" "$(upload_ids orphan.bin | wc -l)" 0
t_check "uploads --abort-orphans: owned upload kept" "$(upload_ids clean.bin)" "$id_c"
t_check "orphan: key never created" "$(s3_status HEAD orphan.bin)" 404

# ================= resume after the clean unmount =================
m1=$(t_log_mark)
m_mount "$MNT" "${MOPTS[@]}" || t_abort "remount after umount failed"
if wait_idle; then t_ok "umount: status --wait after the remount"; else t_fail "umount: status --wait" "$(status_json)"; fi
same_in_bucket "umount: object identical" clean.bin "$T_TMP/k.bin"
after=$(part_puts "$m1" 'clean\.bin')
t_le "umount: part PUTs after the remount <= parts missing" "$after" $((TOTAL - done_c))
t_le "umount: part PUTs in all <= parts + those in flight" $((before + after)) $((TOTAL + CONC))
t_check "umount: no new multipart upload" "$(t_log_count "$m1" "\"POST /$B/clean\\.bin\\?uploads")" 0

# ================= two mounts on one cache dir =================
mkdir -p "$T_TMP/mnt2"
timeout 30 "$BIN" "$S3_BUCKET" "$T_TMP/mnt2" -f -o "$(m_opts)" >"$T_TMP/second.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 124 ]; then t_ok "second mount: exit $rc"; else t_fail "second mount: non-zero exit" "rc $rc"; fi
t_check "second mount: nothing mounted" "$(m_is_mounted "$T_TMP/mnt2" && echo mounted)" ""
t_check "second mount: one clear line" "$(grep -c 'cache dir' "$T_TMP/second.out")" 1
sed 's/^/     | /' "$T_TMP/second.out"
t_check "first mount still serves" "$(stat -c %s "$MNT/clean.bin")" $((200 * MIB))

# ================= an upload aborted behind bucketfs's back =================
m0=$(t_log_mark)
cp "$T_TMP/k.bin" "$MNT/abort.bin"
if stop_half abort.bin $TOTAL; then t_ok "abort: half of the parts done"; else t_fail "abort: half of the parts done" "$(status_json)"; fi
kill9
id_a=$(st_get abort.bin upload_id)
t_check "abort: the upload is open on RGW" "$(upload_ids abort.bin)" "$id_a"
t_check "abort: DELETE ?uploadId with curl" \
  "$(S3_QUERY=$(s3_query "uploadId=$id_a") s3_status DELETE abort.bin)" 204
t_check "abort: gone from RGW" "$(upload_ids abort.bin | wc -l)" 0
m1=$(t_log_mark)
m_mount "$MNT" "${MOPTS[@]}" || t_abort "remount after abort failed"
if wait_idle; then t_ok "abort: status --wait after the remount"; else t_fail "abort: status --wait" "$(status_json)"; fi
same_in_bucket "abort: object identical" abort.bin "$T_TMP/k.bin"
t_check "abort: restarted with a new multipart upload" "$(t_log_count "$m1" "\"POST /$B/abort\\.bin\\?uploads")" 1
t_check "abort: all $TOTAL parts sent again" "$(part_puts "$m1" 'abort\.bin')" $TOTAL
t_check "abort: no multipart upload left" "$(upload_ids abort.bin | wc -l)" 0
t_check "abort: nothing failed" "$(status_json | grep -o '"failed":\[[^]]*\]')" '"failed":[]'

t_summary
