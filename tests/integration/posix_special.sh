#!/usr/bin/env bash
# posix_special.sh - POSIX behaviour real tools depend on, over Ceph RGW,
# checked in the bucket with curl --aws-sigv4 (issue 16):
#   - mkfifo, mknod (character device), a bound Unix socket: empty objects
#     whose type and device number are in x-amz-meta-mode / -rdev as s3fs
#     stores them; a FIFO in the mount is a FIFO (data flows through it), a
#     socket file cannot be opened (ENXIO); chmod, rename, unlink and a
#     remount keep them;
#   - atime kept apart from mtime (utimensat), in x-amz-meta-atime and after a
#     remount; ctime moves on chmod and rename; reading moves atime by the
#     relatime rule without a request per read;
#   - an unlinked file that is still open stays readable (and a staged one
#     writable) through its descriptor, fstat works, and nothing of it lands
#     in the bucket;
#   - tar x of a tree with a FIFO, a symlink, a sparse and an empty file into
#     the mount, then tar --compare against the archive.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v python3 >/dev/null || t_abort "python3 missing"
with_server rgw || t_abort "cannot start rgw"
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
meta() { s3_status HEAD "$1" >/dev/null && s3_header "x-amz-meta-$2"; }
errmsg() { "$@" 2>&1 >/dev/null | sed 's/.*: //' | head -n 1; }
m_mount "$MNT" || t_abort "mount failed"
mkdir -p "$MNT/sp"

# --- special files ------------------------------------------------------------
mkfifo -m 640 "$MNT/sp/fifo"
t_check "mkfifo: an object" "$(s3_status HEAD sp/fifo)" 200
t_check "mkfifo: empty" "$(s3_header content-length)" 0
t_check "mkfifo: x-amz-meta-mode is S_IFIFO|0640" "$(meta sp/fifo mode)" $((8#010640))
t_check "mkfifo: stat says fifo" "$(stat -c '%F %a' "$MNT/sp/fifo")" "fifo 640"
# data flows through it: the kernel's pipe, not the bucket
(printf 'through the fifo' >"$MNT/sp/fifo") &
wpid=$!
got=$(timeout 20 cat "$MNT/sp/fifo")
wait "$wpid"
t_check "fifo: a writer's bytes reach a reader" "$got" "through the fifo"
t_check "fifo: the object stays empty" "$(s3_status HEAD sp/fifo >/dev/null; s3_header content-length)" 0

mknod -m 600 "$MNT/sp/null" c 1 3
t_check "mknod c 1 3: mode" "$(meta sp/null mode)" $((8#020600))
t_check "mknod c 1 3: rdev" "$(meta sp/null rdev)" "$(((1 << 8) | 3))"
t_check "mknod c 1 3: stat" "$(stat -c '%F %t:%T %a' "$MNT/sp/null")" "character special file 1:3 600"
mknod -m 644 "$MNT/sp/blk" b 7 0
t_check "mknod b 7 0: stat" "$(stat -c '%F %t:%T' "$MNT/sp/blk")" "block special file 7:0"

python3 - "$MNT/sp/sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
EOF
t_check "bind: a socket file" "$(stat -c '%F' "$MNT/sp/sock")" "socket"
t_check "bind: x-amz-meta-mode is S_IFSOCK" "$(($(meta sp/sock mode) & 8#170000))" $((8#140000))
t_check "open of a socket file: ENXIO" "$(errmsg cat "$MNT/sp/sock")" "No such device or address"

chmod 604 "$MNT/sp/fifo"
t_check "chmod fifo: mode in the bucket" "$(meta sp/fifo mode)" $((8#010604))
mv "$MNT/sp/fifo" "$MNT/sp/fifo2"
t_check "mv fifo: old key gone" "$(s3_status HEAD sp/fifo)" 404
t_check "mv fifo: still a fifo" "$(stat -c '%F %a' "$MNT/sp/fifo2")" "fifo 604"
t_check "mv fifo: mode in the bucket" "$(meta sp/fifo2 mode)" $((8#010604))
t_check "truncate(2) of a fifo: EINVAL" \
  "$(python3 -c 'import os, sys; os.truncate(sys.argv[1], 0)' "$MNT/sp/fifo2" 2>&1 | grep -o 'Invalid argument')" \
  "Invalid argument"

# --- times --------------------------------------------------------------------
printf 'times' >"$MNT/sp/t.txt"
wait_idle 120 || t_fail "t.txt uploaded"
touch -a -d @1900000000 "$MNT/sp/t.txt"
touch -m -d @1950000000 "$MNT/sp/t.txt"
t_check "utimensat: atime kept apart from mtime" "$(stat -c '%X %Y' "$MNT/sp/t.txt")" "1900000000 1950000000"
wait_idle 120 || t_fail "times uploaded"
t_check "x-amz-meta-atime" "$(meta sp/t.txt atime)" 1900000000
t_check "x-amz-meta-mtime" "$(meta sp/t.txt mtime)" 1950000000
put_obj() { s3_status PUT "$1" --data-binary "$2"; }
t_check "put sp/obj.txt" "$(put_obj sp/obj.txt 'an object')" 200
touch -a -d @1800000000 "$MNT/sp/obj.txt"
touch -m -d @1850000000 "$MNT/sp/obj.txt"
c0=$(stat -c %Z "$MNT/sp/obj.txt")
t_check "object: atime and mtime" "$(stat -c '%X %Y' "$MNT/sp/obj.txt")" "1800000000 1850000000"
t_check "object: x-amz-meta-atime" "$(meta sp/obj.txt atime)" 1800000000
sleep 1.1
chmod 600 "$MNT/sp/obj.txt"
c1=$(stat -c %Z "$MNT/sp/obj.txt")
if [ "$c1" -gt "$c0" ]; then t_ok "chmod moves ctime ($c0 -> $c1)"; else t_fail "chmod moves ctime" "$c0 -> $c1"; fi
t_check "chmod keeps atime and mtime" "$(stat -c '%X %Y' "$MNT/sp/obj.txt")" "1800000000 1850000000"
sleep 1.1
mv "$MNT/sp/obj.txt" "$MNT/sp/obj2.txt"
c2=$(meta sp/obj2.txt ctime)
if [ "$c2" -gt "$c1" ]; then t_ok "rename moves ctime in the bucket"; else t_fail "rename moves ctime" "$c1 -> $c2"; fi
# a read moves atime (1800000000 is before mtime: relatime says yes), with no request
mark=$(t_log_mark)
cat "$MNT/sp/obj2.txt" >/dev/null
now=$(date +%s)
at=$(stat -c %X "$MNT/sp/obj2.txt")
if [ $((now - at)) -le 5 ]; then t_ok "a read moves atime (relatime)"; else t_fail "a read moves atime" "atime $at, now $now"; fi
t_check "the read sent no metadata request" "$(t_log_count "$mark" '"PUT /[^ ]*obj2\.txt')" 0
m_umount "$MNT"
m_mount "$MNT" || t_abort "remount failed"
t_check "after a remount: t.txt times" "$(stat -c '%X %Y' "$MNT/sp/t.txt")" "1900000000 1950000000"
t_check "after a remount: the device" "$(stat -c '%F %t:%T %a' "$MNT/sp/null")" "character special file 1:3 600"
t_check "after a remount: the fifo" "$(stat -c '%F %a' "$MNT/sp/fifo2")" "fifo 604"

# --- unlinked while open --------------------------------------------------------
put_obj sp/open-obj.txt 'still readable after unlink' >/dev/null
python3 - "$MNT/sp" >"$T_TMP/unlink.out" 2>&1 <<'EOF'
import os, sys
d = sys.argv[1]
# a staged file: written, unlinked, then written and read through the descriptor
fd = os.open(d + "/tmpfile", os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b"temporary data")
os.unlink(d + "/tmpfile")
print("staged exists after unlink:", os.path.exists(d + "/tmpfile"))
os.pwrite(fd, b" more", 14)
print("staged fstat size:", os.fstat(fd).st_size)
print("staged pread:", os.pread(fd, 100, 0).decode())
os.close(fd)
# an object from the bucket: opened, unlinked, then read
fd = os.open(d + "/open-obj.txt", os.O_RDONLY)
os.unlink(d + "/open-obj.txt")
print("object fstat size:", os.fstat(fd).st_size)
print("object pread:", os.pread(fd, 100, 0).decode())
os.close(fd)
EOF
sed 's/^/  /' "$T_TMP/unlink.out"
t_check "unlinked staged file: gone from the namespace" "$(grep -c 'staged exists after unlink: False' "$T_TMP/unlink.out")" 1
t_check "unlinked staged file: fstat" "$(grep 'staged fstat size' "$T_TMP/unlink.out")" "staged fstat size: 19"
t_check "unlinked staged file: pread" "$(grep 'staged pread' "$T_TMP/unlink.out")" "staged pread: temporary data more"
t_check "unlinked object: fstat" "$(grep 'object fstat size' "$T_TMP/unlink.out")" "object fstat size: 27"
t_check "unlinked object: pread" "$(grep 'object pread' "$T_TMP/unlink.out")" "object pread: still readable after unlink"
wait_idle 120 || t_fail "idle after the unlinks"
t_check "unlinked staged file never uploaded" "$(s3_status HEAD sp/tmpfile)" 404
t_check "unlinked object gone from the bucket" "$(s3_status HEAD sp/open-obj.txt)" 404

# --- tar of a tree with special files ---------------------------------------------
SRC=$T_TMP/tree
mkdir -p "$SRC/t/sub"
printf 'a regular file\n' >"$SRC/t/file.txt"
: >"$SRC/t/empty"
truncate -s 3M "$SRC/t/sparse"
printf 'tail' | dd of="$SRC/t/sparse" bs=1 seek=2000000 conv=notrunc status=none
mkfifo "$SRC/t/sub/fifo"
ln -s ../file.txt "$SRC/t/sub/link"
touch -d '2020-02-02 02:02:02 UTC' "$SRC/t/file.txt"
(cd "$SRC" && tar --sparse -cf "$T_TMP/tree.tar" t)
if (cd "$MNT" && tar -xpf "$T_TMP/tree.tar") 2>"$T_TMP/tar.err"; then t_ok "tar x into the mount"; else
  t_fail "tar x into the mount" "$(head -c 300 "$T_TMP/tar.err")"
fi
if (cd "$MNT" && tar --compare -f "$T_TMP/tree.tar") >"$T_TMP/cmp.out" 2>&1; then t_ok "tar --compare: no difference"; else
  t_fail "tar --compare" "$(head -c 400 "$T_TMP/cmp.out")"
fi
wait_idle 120 || t_fail "tree uploaded"
t_check "tar: the fifo is an object" "$(($(meta t/sub/fifo mode) & 8#170000))" $((8#010000))
rm -f "$T_TMP/body"
s3_status GET t/sparse >/dev/null
t_check "tar: the sparse file's bytes" "$(cmp "$SRC/t/sparse" "$T_TMP/body" && echo same)" same

m_umount "$MNT"
t_summary
