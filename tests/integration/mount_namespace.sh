#!/usr/bin/env bash
# mount_namespace.sh - changing the namespace through the mount, over Ceph RGW,
# checked in the bucket with curl --aws-sigv4: mkdir/rmdir/ENOTEMPTY, unlink,
# rename of a file and of a directory with 30 children, chmod/chown/touch -d
# (x-amz-meta-* headers, and after a remount), symlinks, special-character
# names, long names and ENAMETOOLONG, link -> EPERM, statfs.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
with_server rgw || t_abort "cannot start rgw"

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
# s3_keys PREFIX: the keys under PREFIX (one listing page is enough here), sorted
s3_keys() {
  S3_QUERY=$(s3_query list-type=2 "prefix=$1") s3curl GET "" |
    grep -o '<Key>[^<]*</Key>' | sed 's/<Key>//; s/<\/Key>//' | LC_ALL=C sort
}
# errmsg CMD...: the strerror part of CMD's error message ("" when it succeeds)
errmsg() { "$@" 2>&1 >/dev/null | sed 's/.*: //' | head -n 1; }
put() { s3_status PUT "$1" --data-binary "${2-x}"; }

# --- fixtures put with curl before mounting ---
t_check "put ne/child" "$(put ne/child.txt)" 200
t_check "put nem/ marker" "$(s3_status PUT nem/ -H 'Content-Type: application/x-directory' --data-binary '')" 200
t_check "put nem/child" "$(put nem/child.txt)" 200
t_check "put ren/file" "$(put ren/file.txt 'rename me')" 200
t_check "put ren/del" "$(put ren/del.txt)" 200
t_check "put attr/f" "$(put attr/f.txt 'attributes')" 200
seq -w 1 30 | xargs -P 8 -I{} curl -sS -o /dev/null -w '%{http_code}\n' -X PUT --data-binary 'child {}' \
  --aws-sigv4 "aws:amz:${S3_REGION}:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_ENDPOINT/$S3_BUCKET/rdir/c{}" >"$T_TMP/codes"
t_check "put rdir/c01..c30" "$(grep -c '^200$' "$T_TMP/codes")" 30
SPECIAL=("ü日本語.txt" "with space.txt" "a+b.txt" "50%.txt" "hash#.txt" "q?.txt" "eq=1.txt" "all +%#?=&;'!.txt")
for n in "${SPECIAL[@]}"; do
  t_check "put special/$n" "$(put "special/$n" "$n")" 200
done
c200=$(printf 'c%.0s' $(seq 1 200))
LONGKEY="long/$c200/$c200/$c200/$c200/$(printf 'f%.0s' $(seq 1 191))"
t_check "long key is 1000 bytes" "${#LONGKEY}" 1000
t_check "put 1000-byte key" "$(put "$LONGKEY" long)" 200

m_mount "$MNT" || t_abort "mount failed"

# --- mkdir / rmdir / ENOTEMPTY ---
mkdir "$MNT/d1"
t_check "mkdir: marker d1/" "$(s3_status HEAD d1/)" 200
t_check "mkdir: marker content type" "$(s3_header content-type)" application/x-directory
mkdir -p "$MNT/p/q/r"
t_check "mkdir -p: marker p/q/r/" "$(s3_status HEAD p/q/r/)" 200
t_check "mkdir existing" "$(errmsg mkdir "$MNT/d1")" "File exists"
rmdir "$MNT/d1"
t_check "rmdir: marker gone" "$(s3_status HEAD d1/)" 404
t_check "rmdir: gone from the mount" "$(ls "$MNT" | grep -c '^d1$')" 0
t_check "rmdir implied non-empty" "$(errmsg rmdir "$MNT/ne")" "Directory not empty"
t_check "rmdir marker non-empty" "$(errmsg rmdir "$MNT/nem")" "Directory not empty"
t_check "rmdir non-empty kept the keys" "$(s3_keys ne/; s3_keys nem/)" "$(printf 'ne/child.txt\nnem/\nnem/child.txt')"
t_check "rmdir a file" "$(errmsg rmdir "$MNT/ne/child.txt")" "Not a directory"
t_check "unlink a directory" "$(errmsg unlink "$MNT/ne")" "Is a directory"
rm "$MNT/ren/del.txt"
t_check "unlink: object gone" "$(s3_status HEAD ren/del.txt)" 404

# --- rename of a file (same dir, across dirs) and of a directory with 30 children ---
mv "$MNT/ren/file.txt" "$MNT/ren/moved.txt"
t_check "rename file: old key gone" "$(s3_status HEAD ren/file.txt)" 404
t_check "rename file: new key" "$(s3curl GET ren/moved.txt)" "rename me"
mkdir "$MNT/ren2"
mv "$MNT/ren/moved.txt" "$MNT/ren2/moved.txt"
t_check "rename across dirs: keys" "$(s3_keys ren2/ | tr '\n' ' ')$(s3_status HEAD ren/moved.txt)" "ren2/ ren2/moved.txt 404"
t_check "rename across dirs: read" "$(cat "$MNT/ren2/moved.txt")" "rename me"
mv "$MNT/rdir" "$MNT/rdir2"
t_check "rename dir: old keys gone" "$(s3_keys rdir/ | wc -l)" 0
t_check "rename dir: 30 new keys" "$(s3_keys rdir2/ | grep -v '/$' | tr '\n' ' ')" \
  "$(seq -w 1 30 | sed 's|^|rdir2/c|' | tr '\n' ' ')"
t_check "rename dir: bytes kept" "$(s3curl GET rdir2/c17)" "child 17"
t_check "rename dir: through the mount" "$(ls "$MNT/rdir2" | wc -l)/$(cat "$MNT/rdir2/c30")" "30/child 30"
t_check "rename dir: old path" "$(errmsg stat "$MNT/rdir")" "No such file or directory"

# --- chmod / chown / touch -d ---
chmod 640 "$MNT/attr/f.txt"
chown 1234:5678 "$MNT/attr/f.txt"
touch -d '2020-01-02 03:04:05 UTC' "$MNT/attr/f.txt"
chmod 750 "$MNT/nem"
s3_status HEAD attr/f.txt >/dev/null
t_check "x-amz-meta-mode" "$(s3_header x-amz-meta-mode)" $((8#100640))
t_check "x-amz-meta-uid/gid" "$(s3_header x-amz-meta-uid)/$(s3_header x-amz-meta-gid)" 1234/5678
t_check "x-amz-meta-mtime" "$(s3_header x-amz-meta-mtime)" 1577934245
t_check "content kept" "$(s3curl GET attr/f.txt)" attributes
t_check "stat before remount" "$(stat -c '%a %u %g %Y' "$MNT/attr/f.txt")" "640 1234 5678 1577934245"

# --- symlinks ---
ln -s "../ren2/moved.txt" "$MNT/attr/link"
t_check "readlink" "$(readlink "$MNT/attr/link")" "../ren2/moved.txt"
t_check "symlink object body = target" "$(s3curl GET attr/link)" "../ren2/moved.txt"
s3_status HEAD attr/link >/dev/null
t_check "symlink mode metadata" "$(s3_header x-amz-meta-mode)" $((8#120777))
t_check "read through the symlink" "$(cat "$MNT/attr/link")" "rename me"

# --- special characters ---
t_check "special names listed" "$(ls "$MNT/special" | LC_ALL=C sort)" "$(printf '%s\n' "${SPECIAL[@]}" | LC_ALL=C sort)"
bad=0
for n in "${SPECIAL[@]}"; do [ "$(cat "$MNT/special/$n" 2>&1)" = "$n" ] || bad=$((bad + 1)); done
t_check "special names read" "$bad" 0
mv "$MNT/special/with space.txt" "$MNT/special/now +%#?=&.txt"
t_check "rename to special name" "$(s3curl GET 'special/now +%#?=&.txt')" "with space.txt"
mkdir "$MNT/special/dir ü+%#?="
t_check "mkdir special name" "$(s3_status HEAD 'special/dir ü+%#?=/')" 200
chmod 600 "$MNT/special/ü日本語.txt"
s3_status HEAD "special/ü日本語.txt" >/dev/null
t_check "chmod special name" "$(s3_header x-amz-meta-mode)" $((8#100600))
rmdir "$MNT/special/dir ü+%#?="
t_check "rmdir special name" "$(s3_status HEAD 'special/dir ü+%#?=/')" 404

# --- long names ---
t_check "1000-byte key read" "$(cat "$MNT/$LONGKEY" 2>&1)" long
t_check "1000-byte key in listing" "$(ls "$MNT/long/$c200/$c200/$c200/$c200" | wc -c)" 192  # 191 bytes and a newline
t_check "name of 256 bytes" "$(errmsg mkdir "$MNT/$(printf 'n%.0s' $(seq 1 256))")" "File name too long"
t_check "key over 1024 bytes (mkdir)" "$(errmsg mkdir "$MNT/long/$c200/$c200/$c200/$c200/$(printf 'd%.0s' $(seq 1 250))")" \
  "File name too long"
t_check "key over 1024 bytes (rename)" \
  "$(errmsg mv "$MNT/ren2/moved.txt" "$MNT/long/$c200/$c200/$c200/$c200/$(printf 'm%.0s' $(seq 1 250))")" \
  "File name too long"
t_check "key over 1024 bytes (symlink)" \
  "$(errmsg ln -s x "$MNT/long/$c200/$c200/$c200/$c200/$(printf 's%.0s' $(seq 1 250))")" "File name too long"
t_check "mount alive after long names" "$(stat -c %F "$MNT/ren2")" directory

# --- link, statfs ---
t_check "hard link" "$(errmsg ln "$MNT/ren2/moved.txt" "$MNT/ren2/hard")" "Operation not permitted"
if df -P "$MNT" >/dev/null 2>&1 && [ "$(stat -f -c %b "$MNT")" -gt 1000000 ]; then t_ok "statfs"; else t_fail "statfs"; fi

# --- after a remount ---
m_umount "$MNT"
m_mount "$MNT" || t_abort "remount failed"
t_check "stat after remount" "$(stat -c '%a %u %g %Y' "$MNT/attr/f.txt")" "640 1234 5678 1577934245"
t_check "dir mode after remount" "$(stat -c '%a %F' "$MNT/nem")" "750 directory"
t_check "symlink after remount" "$(stat -c %F "$MNT/attr/link")/$(readlink "$MNT/attr/link")" \
  "symbolic link/../ren2/moved.txt"
t_check "renamed dir after remount" "$(ls "$MNT/rdir2" | wc -l)" 30
m_umount "$MNT"
if m_is_mounted "$MNT"; then t_fail "unmounted"; else t_ok "unmounted"; fi
t_summary
