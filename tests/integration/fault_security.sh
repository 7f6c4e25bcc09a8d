#!/usr/bin/env bash
# fault_security.sh - security properties of a mount, over Ceph RGW:
#   - the secret never appears in any log at the most verbose level
#     (loglevel=debug plus fuse_debug), also when requests fail (the mount runs
#     through tests/tools/faultproxy.js answering 20% of requests 503, and a
#     mount attempt with a wrong secret is made with -d);
#   - the cache and staging directories are 0700 and a staging file is 0600
#     while its file is open and while it is pending upload;
#   - a mount of BUCKET:/sub never writes or deletes a key outside sub/ (the
#     whole bucket is listed with ETags before and after a session of writes,
#     renames, deletes and rmdirs) and sends no request for a key outside it
#     (the server's access log);
#   - without allow_other, user nobody cannot enter the mount (EACCES).
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
SECRET=$S3_SECRET_KEY
[ "${#SECRET}" -ge 8 ] || t_abort "secret too short to grep for"

# no_secret NAME FILE...: the secret occurs in none of FILE
no_secret() {
  local name=$1 hits
  shift
  hits=$(grep -lF -- "$SECRET" "$@" 2>/dev/null)
  if [ -z "$hits" ]; then t_ok "$name: secret not in the log ($(cat "$@" 2>/dev/null | wc -l) lines)"; else
    t_fail "$name: secret in" "$hits"
  fi
}

MNT=$T_TMP/mnt
mkdir -p "$MNT"

# --- 1. the secret in logs, at the most verbose level, with failing requests -------
start_proxy --seed 11 --p503 20 || t_abort "faultproxy did not start"
head -c $((7 * 1048576 + 123)) /dev/urandom >"$T_TMP/big"
head -c 5000 /dev/urandom >"$T_TMP/small"
S3_ENDPOINT=$PX m_mount "$MNT" -o loglevel=debug,fuse_debug,part_size=5,log_file="$T_TMP/debug-file.log" ||
  t_abort "debug mount through the proxy failed"
cp "$T_TMP/big" "$MNT/big.bin"
cp "$T_TMP/small" "$MNT/small.bin"
cat "$MNT/nonexistent" 2>/dev/null
mkdir "$MNT/d" && mv "$MNT/small.bin" "$MNT/d/small.bin"
"$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 120 >"$T_TMP/status.out" 2>&1
cmp -s "$MNT/big.bin" "$T_TMP/big" || t_fail "debug mount: big.bin reads back"
m_umount "$MNT"
s3curl GET big.bin -o "$T_TMP/got" 2>/dev/null
cmp -s "$T_TMP/got" "$T_TMP/big" && t_ok "debug mount: big.bin in the bucket" || t_fail "debug mount: big.bin in the bucket"
n503=$(grep -c 'client=503' "$PX_LOG")
if [ "$n503" -gt 0 ]; then t_ok "debug mount: $n503 requests failed with 503"; else t_fail "debug mount: faults injected" 0; fi
if grep -qiE 'debug|unique:' "$M_LOG"; then t_ok "debug mount: the log is at debug level"; else
  t_fail "debug mount: debug output" "none in $M_LOG"
fi
no_secret "debug mount stderr" "$M_LOG"
no_secret "debug mount log_file" "$T_TMP/debug-file.log"
no_secret "status output" "$T_TMP/status.out"
"$BIN" status --cache-dir "$T_TMP/cache" --json >"$T_TMP/status.json" 2>&1
no_secret "status --json" "$T_TMP/status.json"
# the checkpoint store and the mount registry hold no secret either
mapfile -t cache_files < <(find "$T_TMP/cache" -type f)
no_secret "cache dir files" "${cache_files[@]}"

# a wrong secret, debug everywhere, in the foreground
printf '%s:%s\n' "$S3_ACCESS_KEY" "wrong$SECRET" >"$T_TMP/badpw"
chmod 600 "$T_TMP/badpw"
timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -f -d -o "$(m_opts),passwd_file=$T_TMP/badpw,fuse_debug" \
  >"$T_TMP/bad.out" 2>"$T_TMP/bad.err"
rc=$?
t_check "wrong secret -d: exit 1" "$rc" 1
m_is_mounted "$MNT" && { t_fail "wrong secret: no mount left"; fusermount3 -u "$MNT"; }
no_secret "wrong secret -d output" "$T_TMP/bad.out" "$T_TMP/bad.err"
# and through the env variables instead of a passwd file
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=wrong$SECRET timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -f -d \
  -o "url=$S3_ENDPOINT,region=$S3_REGION,cache_dir=$T_TMP/cache,fuse_debug" >"$T_TMP/bad2.out" 2>"$T_TMP/bad2.err"
t_check "wrong secret from env -d: exit 1" "$?" 1
no_secret "wrong secret from env -d output" "$T_TMP/bad2.out" "$T_TMP/bad2.err"

# --- 2. modes of the cache, staging dir and staging files -----------------------------
# a slow proxy keeps uploads pending long enough to look at them
kill -TERM "$PX_PID"
wait "$PX_PID" 2>/dev/null
rm -f "$T_TMP/proxy.port"
start_proxy --seed 12 --delay-max 3000 --match '^PUT ' || t_abort "slow faultproxy did not start"
S3_ENDPOINT=$PX m_mount "$MNT" || t_abort "mount failed"
exec 3>"$MNT/open.bin"
head -c 100000 /dev/urandom >&3
t_check "cache dir is 0700" "$(stat -c %a "$T_TMP/cache")" 700
# one state dir per bucket and endpoint: the proxy's is the newest
sd=$(ls -td "$T_TMP/cache/$S3_BUCKET"-* | head -n 1)
[ -n "$sd" ] || t_fail "state dir" "none under $T_TMP/cache"
t_check "state dir is 0700" "$(stat -c %a "$sd")" 700
t_check "staging dir is 0700" "$(stat -c %a "$sd/staging")" 700
t_check "checkpoint dir is 0700" "$(stat -c %a "$sd/checkpoint")" 700
modes=$(find "$sd/staging" -type f -printf '%m\n' | sort -u | tr '\n' ' ')
t_check "staging files of an open file are 0600" "$modes" "600 "
exec 3>&-
for i in 1 2 3 4 5; do head -c $((i * 300000)) /dev/urandom >"$MNT/pend$i.bin"; done
pending=$("$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --json | grep -o '"key":' | wc -l)
if [ "$pending" -gt 0 ]; then t_ok "$pending files pending while stat runs"; else t_fail "files pending" 0; fi
modes=$(find "$sd/staging" -type f -printf '%m\n' | sort -u | tr '\n' ' ')
t_check "staging files of pending uploads are 0600" "$modes" "600 "
modes=$(find "$sd/checkpoint" -type f -printf '%m\n' | sort -u | tr '\n' ' ')
t_check "checkpoint files are 0600" "$modes" "600 "
t_check "nothing in the cache is group/other accessible" "$(find "$T_TMP/cache" -perm /077 | wc -l)" 0
"$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 120 >/dev/null

# --- 3. without allow_other, nobody cannot enter --------------------------------------
m_umount "$MNT"
chmod 711 "$T_TMP"
chmod 755 "$MNT"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_nobody ls "$MNT" >/dev/null 2>&1 && t_ok "nobody can list the bare mountpoint (control)" ||
  t_fail "control: nobody lists the bare mountpoint"
S3_ENDPOINT=$PX m_mount "$MNT" || t_abort "mount failed"
out=$(as_nobody ls "$MNT" 2>&1)
rc=$?
if [ "$rc" != 0 ] && grep -q 'Permission denied' <<<"$out"; then t_ok "nobody: ls the mount is EACCES"; else
  t_fail "nobody: ls the mount" "rc=$rc $out"
fi
out=$(as_nobody cat "$MNT/pend1.bin" 2>&1 >/dev/null)
if grep -q 'Permission denied' <<<"$out"; then t_ok "nobody: read a file is EACCES"; else t_fail "nobody: cat" "$out"; fi
out=$(as_nobody touch "$MNT/by-nobody" 2>&1)
if grep -q 'Permission denied' <<<"$out"; then t_ok "nobody: create is EACCES"; else t_fail "nobody: touch" "$out"; fi
t_check "nothing created by nobody" "$(s3_status HEAD by-nobody)" 404
m_umount "$MNT"
chmod 700 "$T_TMP"

# --- 4. a prefix mount stays inside its prefix ----------------------------------------
for k in outside.txt sub subfile sub-sibling/a.txt subx/b.txt other/sub/c.txt sub/inside.txt sub/dir/keep.txt; do
  printf 'content of %s\n' "$k" >"$T_TMP/obj"
  t_check "put $k" "$(s3_status PUT "$k" -T "$T_TMP/obj")" 200
done
# list_all FILE: every key with its ETag and size, whole bucket (ListObjectsV2, paged)
list_all() {
  local token='' q
  : >"$1"
  while :; do
    if [ -n "$token" ]; then q=$(s3_query list-type=2 max-keys=1000 "continuation-token=$token"); else
      q=$(s3_query list-type=2 max-keys=1000)
    fi
    S3_QUERY=$q s3curl GET "" >"$T_TMP/list.xml" || return 1
    node -e '
      const x = require("fs").readFileSync(process.argv[1], "utf8");
      for (const m of x.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const g = (t) => ((m[1].match(new RegExp(`<${t}>([\\s\\S]*?)</${t}>`)) || [])[1] || "");
        console.log(`${g("Key")}\t${g("ETag")}\t${g("Size")}`);
      }' "$T_TMP/list.xml" >>"$1"
    grep -q '<IsTruncated>true' "$T_TMP/list.xml" || break
    token=$(sed -n 's/.*<NextContinuationToken>\([^<]*\)<.*/\1/p' "$T_TMP/list.xml")
  done
  sort -o "$1" "$1"
}
outside() { grep -v '^sub/' "$1"; }
list_all "$T_TMP/before" || t_abort "cannot list the bucket"
mark=$(t_log_mark)
M_SPEC="$S3_BUCKET:/sub" m_mount "$MNT" || t_abort "prefix mount failed"
cat "$MNT/inside.txt" >/dev/null
ls -la "$MNT" "$MNT/dir" >/dev/null
cp "$T_TMP/small" "$MNT/new.bin"
head -c 6000000 /dev/urandom >"$MNT/newbig.bin"
mkdir -p "$MNT/nd/deeper" "$MNT/empty"
echo x >"$MNT/nd/deeper/f"
mv "$MNT/new.bin" "$MNT/nd/renamed.bin"
mv "$MNT/nd" "$MNT/nd2"
mv "$MNT/inside.txt" "$MNT/moved.txt"
rmdir "$MNT/empty"
rm "$MNT/newbig.bin" "$MNT/nd2/deeper/f"
rmdir "$MNT/nd2/deeper"
ls "$MNT/../" >/dev/null 2>&1
stat "$MNT/../outside.txt" >/dev/null 2>&1
"$BIN" status "$MNT" --cache-dir "$T_TMP/cache" --wait --timeout 60 >/dev/null
m_umount "$MNT"
list_all "$T_TMP/after" || t_abort "cannot list the bucket"
if diff <(outside "$T_TMP/before") <(outside "$T_TMP/after") >"$T_TMP/diff"; then
  t_ok "prefix mount: $(outside "$T_TMP/before" | wc -l) keys outside sub/ unchanged"
else
  t_fail "prefix mount: keys outside sub/ changed" "$(head -c 500 "$T_TMP/diff")"
fi
s3curl GET sub/nd2/renamed.bin -o "$T_TMP/got" 2>/dev/null
cmp -s "$T_TMP/got" "$T_TMP/small" && t_ok "prefix mount: the session's writes landed under sub/" ||
  t_fail "prefix mount: sub/nd2/renamed.bin"
t_check "prefix mount: moved file" "$(s3curl GET sub/moved.txt)" "content of sub/inside.txt"
t_check "prefix mount: removed file gone" "$(s3_status HEAD sub/newbig.bin)" 404
# the server's log: every bucketfs request names a key under sub/ or lists with prefix sub/
sleep 0.5
tail -n +"$((mark + 1))" "$S3_LOG" | grep -F "\"bucketfs" | grep -F " /$S3_BUCKET" |
  sed -n 's/.*"\([A-Z]*\) \([^ ]*\) HTTP[^"]*".*/\1 \2/p' >"$T_TMP/reqs"
bad=$(awk -v b="/$S3_BUCKET" '{
  split($2, pq, "?"); p = pq[1]; q = pq[2]
  if (index(p, b "/sub/") == 1) next
  if ((p == b || p == b "/") && (q ~ /(^|&)prefix=sub(%2F|\/)/ || q == "" || q ~ /^location/)) next
  print }' "$T_TMP/reqs")
# (the mount-time bucket probe must list with prefix=sub/ too: credentials limited
# to the prefix would be refused a listing of the whole bucket)
if [ -n "$bad" ]; then t_fail "prefix mount: requests outside sub/" "$(head -n 5 <<<"$bad")"; else
  t_ok "prefix mount: all $(wc -l <"$T_TMP/reqs") requests stay inside sub/"
fi
t_summary
