#!/usr/bin/env bash
# security_uploads.sh - `bucketfs uploads --abort-orphans` aborts only what it
# may, over Ceph RGW, with multipart uploads of three owners in flight:
#   - a running mount's (its cache dir C1; it mounts through a proxy, so its
#     endpoint is spelled differently from the command's), held mid-upload by
#     stopping the proxy;
#   - a foreign one started with curl (any other tool);
#   - one of ours that nothing resumes (a record in the failed table, made by
#     tests/tools/status_fixture with a real upload id).
# Checked in the bucket with curl after each command:
#   - listing names them pending / unknown / orphan;
#   - --abort-orphans aborts the orphan only (before: everything, the running
#     mount's upload included, as no store matched the endpoint's spelling);
#   - seen from another cache dir (another host): nothing is aborted, nor with
#     --older-than 1h (both are minutes old); the output says why;
#   - --older-than 0 aborts the foreign upload and still never the mount's;
#   - a checkpoint store that cannot be read: refused, exit 1, nothing aborted;
#   - a bad duration: exit 2 with a clear line.
# Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
FIX=$(dirname "$BIN")/tests/tools/status_fixture
[ -x "$FIX" ] || t_abort "no $FIX (make tests-build)"
with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"
# shellcheck source=../lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

MNT=$T_TMP/mnt
C1=$T_TMP/cache # the mount's cache dir (m_opts)
C2=$T_TMP/other-host
# upload_ids KEY: the open multipart upload ids of KEY, from RGW
upload_ids() {
  S3_QUERY=$(s3_query uploads "prefix=$1") s3curl GET "" |
    grep -o "<Key>$1</Key><UploadId>[^<]*" | sed 's/.*<UploadId>//'
}
# curl_upload KEY: starts a multipart upload of KEY with one part; prints its id
curl_upload() {
  local id
  S3_QUERY=$(s3_query uploads) s3_status POST "$1" >/dev/null
  id=$(grep -o '<UploadId>[^<]*' "$T_TMP/body" | sed 's/<UploadId>//')
  head -c $((5 * 1048576)) /dev/urandom >"$T_TMP/part"
  S3_QUERY=$(s3_query partNumber=1 "uploadId=$id") s3_status PUT "$1" -T "$T_TMP/part" >/dev/null
  printf '%s' "$id"
}
uploads() { "$BIN" uploads "$S3_BUCKET" "$@" >"$T_TMP/up.out" 2>&1; }
line_of() { grep -F -- "$1" "$T_TMP/up.out"; }
still_there() { # NAME KEY ID
  if upload_ids "$2" | grep -qxF -- "$3"; then t_ok "$1: $2's upload is still there"; else
    t_fail "$1: $2's upload is still there" "aborted"
  fi
}
gone() { # NAME KEY ID
  if upload_ids "$2" | grep -qxF -- "$3"; then t_fail "$1: $2's upload aborted" "still open"; else
    t_ok "$1: $2's upload aborted"
  fi
}

# --- the three uploads -------------------------------------------------------------
start_proxy || t_abort "proxy did not start"
S3_ENDPOINT=$PX m_mount "$MNT" -o part_size=5,upload_concurrency=1,unmount_grace=1 || t_abort "mount failed"
head -c $((40 * 1048576)) /dev/urandom >"$MNT/live.bin"
for _ in $(seq 1 600); do
  id_live=$(st_get live.bin upload_id)
  [ -n "$id_live" ] && break
  sleep 0.1
done
[ -n "$id_live" ] || t_abort "the mount started no multipart upload"
kill -STOP "$PX_PID" # the mount's upload stays in flight
t_cleanup_push kill -CONT "$PX_PID"
id_curl=$(curl_upload foreign.bin)
[ -n "$id_curl" ] || t_abort "curl could not start an upload"
id_lost=$(curl_upload lost.bin)
"$FIX" "$C1/$S3_BUCKET-fixture" lost.bin "$id_lost" || t_abort "status_fixture failed"
echo "     (live $id_live, foreign $id_curl, lost $id_lost)"

# --- listing -----------------------------------------------------------------------
uploads -o "$(m_opts)"
t_check "list: exit" "$?" 0
sed 's/^/     | /' "$T_TMP/up.out"
t_check "list: the running mount's upload is pending" "$(line_of "$id_live" | awk '{print $1}')" pending
t_check "list: the curl upload is unknown" "$(line_of "$id_curl" | awk '{print $1}')" unknown
t_check "list: the failed record's upload is an orphan" "$(line_of "$id_lost" | awk '{print $1}')" orphan

# --- --abort-orphans: only the orphan ------------------------------------------------
uploads -o "$(m_opts)" --abort-orphans
t_check "abort: exit" "$?" 0
sed 's/^/     | /' "$T_TMP/up.out"
gone "abort" lost.bin "$id_lost"
still_there "abort" live.bin "$id_live"
still_there "abort" foreign.bin "$id_curl"
if grep -q 'unknown upload(s) left alone.*--older-than' "$T_TMP/up.out"; then t_ok "abort: says how to abort unknown ones"; else
  t_fail "abort: hint" "$(tail -n 2 "$T_TMP/up.out")"
fi

# --- another host's view: nothing of these is known there ---------------------------
mkdir -p -m 700 "$C2"
uploads -o "$(m_opts),cache_dir=$C2" --abort-orphans
t_check "other cache dir: exit" "$?" 0
still_there "other cache dir" live.bin "$id_live"
still_there "other cache dir" foreign.bin "$id_curl"
if grep -q "no bucketfs state under $C2" "$T_TMP/up.out"; then t_ok "other cache dir: says it knows nothing"; else
  t_fail "other cache dir: note" "$(tail -n 3 "$T_TMP/up.out")"
fi
uploads -o "$(m_opts),cache_dir=$C2" --abort-orphans --older-than 1h
t_check "other cache dir --older-than 1h: exit" "$?" 0
still_there "other cache dir --older-than 1h" live.bin "$id_live"
still_there "other cache dir --older-than 1h" foreign.bin "$id_curl"

# --- --older-than 0 from the mount's cache dir: the foreign one, never the mount's ---
uploads -o "$(m_opts)" --abort-orphans --older-than 0
t_check "--older-than 0: exit" "$?" 0
sed 's/^/     | /' "$T_TMP/up.out"
gone "--older-than 0" foreign.bin "$id_curl"
still_there "--older-than 0" live.bin "$id_live"

# --- a store that cannot be read: refuse before touching anything ------------------
id_other=$(curl_upload other.bin)
C3=$T_TMP/damaged
mkdir -p -m 700 "$C3/$S3_BUCKET-x/checkpoint"
head -c 8192 /dev/urandom >"$C3/$S3_BUCKET-x/checkpoint/data.mdb"
uploads -o "$(m_opts),cache_dir=$C3" --abort-orphans --older-than 0
t_check "damaged store: exit" "$?" 1
if grep -q "cannot read the checkpoint store in $C3" "$T_TMP/up.out"; then t_ok "damaged store: says which"; else
  t_fail "damaged store: message" "$(cat "$T_TMP/up.out")"
fi
still_there "damaged store" other.bin "$id_other"

uploads -o "$(m_opts)" --abort-orphans --older-than 5x
t_check "bad duration: exit" "$?" 2
if grep -q "bad duration '5x'" "$T_TMP/up.out"; then t_ok "bad duration: says so"; else t_fail "bad duration" "$(cat "$T_TMP/up.out")"; fi

kill -CONT "$PX_PID"
m_umount "$MNT"
t_summary
