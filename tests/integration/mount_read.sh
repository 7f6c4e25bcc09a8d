#!/usr/bin/env bash
# mount_read.sh - reading and listing a bucket through the mount, checked
# against what curl --aws-sigv4 put and reads: objects of 0 B, 1 B, 1 MiB+1 and
# 64 MiB (sequential cat/cmp and dd at random offsets), the mount's 1 MiB
# kernel read-ahead, `ls -l` of 2,500 objects (three listing pages), nested
# directories, markers and implied prefixes, a key that is both a file and a
# prefix.
# Server: MOUNT_SERVER=rgw (default) or s3rver (mount_read_s3rver.sh; sigv=2).
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

MOUNT_SERVER=${MOUNT_SERVER:-rgw}
BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
with_server "$MOUNT_SERVER" || t_abort "cannot start $MOUNT_SERVER"

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt

# --- objects of several sizes, put by curl ---
head -c 0 /dev/urandom >"$T_TMP/zero.bin"
printf 'x' >"$T_TMP/one.bin"
head -c $((1024 * 1024 + 1)) /dev/urandom >"$T_TMP/mib1.bin"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$T_TMP/big.bin"
for f in zero one mib1 big; do
  t_check "curl put $f.bin" "$(s3_status PUT "read/$f.bin" -T "$T_TMP/$f.bin")" 200
done

# --- 2,500 objects in one directory (sizes 1-4 bytes: the length of N) ---
t0=$(date +%s.%N)
# 100 curl processes of 25 PUTs each, 16 at a time: 2,500 process starts would cost more than the PUTs.
mkdir -p "$T_TMP/many.rc"
for c in $(seq 0 99); do
  for i in $(seq $((c * 25 + 1)) $((c * 25 + 25))); do
    [ $((i % 25)) = 1 ] || echo next
    printf 'url = "%s"\nrequest = "PUT"\ndata-binary = "%s"\naws-sigv4 = "aws:amz:%s:s3"\nuser = "%s:%s"\n' \
      "$S3_ENDPOINT/$S3_BUCKET/many/f$i" "$i" "$S3_REGION" "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
    printf 'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
  done >"$T_TMP/many.rc/chunk.$c"
done
printf '%s\n' "$T_TMP"/many.rc/chunk.* | xargs -P 16 -n 1 curl -sS -K >"$T_TMP/many.codes"
t_check "curl put 2500 objects" "$(grep -c '^200$' "$T_TMP/many.codes")" 2500
echo "info: 2500 PUTs with curl (16 x 25-request processes) took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"

# --- a tree: implied prefixes, an empty marker, a file that is also a prefix ---
printf 'deep\n' >"$T_TMP/deep.txt"
t_check "put deep" "$(s3_status PUT tree/a/b/c/deep.txt -T "$T_TMP/deep.txt")" 200
t_check "put x" "$(s3_status PUT tree/x.txt -T "$T_TMP/deep.txt")" 200
t_check "put marker" "$(s3_status PUT tree/marker/ -H 'Content-Type: application/x-directory' --data-binary '')" 200
t_check "put file-and-prefix" "$(s3_status PUT tree/both -T "$T_TMP/deep.txt")" 200
t_check "put under it" "$(s3_status PUT tree/both/child -T "$T_TMP/deep.txt")" 200

m_mount "$MNT" || t_abort "mount failed"
t_ok "mounted $S3_BUCKET over $S3_SERVER"

# --- the kernel reads ahead 1 MiB a request: the daemon raised its device's
# read-ahead from the kernel's 128 KiB (it needs write access to /sys)
ra=/sys/class/bdi/$(stat -c '%Hd:%Ld' "$MNT")/read_ahead_kb
if [ "$(id -u)" = 0 ] && [ -w "$ra" ]; then
  t_check "kernel read-ahead of the mount" "$(cat "$ra" 2>&1)" 1024
else
  echo "skip read-ahead check: $ra is not writable here"
fi

# --- sizes and bytes, sequential ---
for f in zero one mib1 big; do
  t_check "size of $f.bin" "$(stat -c %s "$MNT/read/$f.bin" 2>&1)" "$(stat -c %s "$T_TMP/$f.bin")"
  if cmp "$T_TMP/$f.bin" "$MNT/read/$f.bin"; then t_ok "cat/cmp $f.bin"; else t_fail "cat/cmp $f.bin"; fi
done
s3_status HEAD read/big.bin >/dev/null
t_check "server size of big.bin" "$(s3_header content-length)" $((64 * 1024 * 1024))
s3curl GET read/big.bin -o "$T_TMP/big.curl"
if cmp -s "$T_TMP/big.bin" "$T_TMP/big.curl"; then t_ok "curl GET big.bin"; else t_fail "curl GET big.bin"; fi

# --- random offsets with dd (each compared with the same dd on the local file) ---
big=$((64 * 1024 * 1024))
offsets="0:1 1:4095 4095:2 131071:131073 $((big - 1)):1 $((big - 100)):1000 $big:10 $((big / 2 + 7)):3000000"
for _ in $(seq 1 12); do offsets+=" $(((RANDOM * 32768 + RANDOM) % big)):$((RANDOM * 16 + 1))"; done
bad=0
for ol in $offsets; do
  off=${ol%%:*} len=${ol##*:}
  dd if="$MNT/read/big.bin" of="$T_TMP/dd.m" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count="$len" \
    status=none 2>>"$T_TMP/dd.err"
  dd if="$T_TMP/big.bin" of="$T_TMP/dd.l" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count="$len" \
    status=none
  cmp -s "$T_TMP/dd.m" "$T_TMP/dd.l" || {
    bad=$((bad + 1))
    echo "dd mismatch at offset $off length $len"
  }
done
t_check "dd at $(echo "$offsets" | wc -w) random offsets of big.bin" "$bad" 0
dd if="$MNT/read/mib1.bin" of="$T_TMP/dd.m" bs=1 iflag=skip_bytes skip=1048576 status=none
t_check "last byte of mib1.bin" "$(od -An -tx1 "$T_TMP/dd.m" | tr -d ' ')" \
  "$(tail -c 1 "$T_TMP/mib1.bin" | od -An -tx1 | tr -d ' ')"

# --- throughput next to curl (information, not pass/fail) ---
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
t0=$(date +%s.%N)
cat "$MNT/read/big.bin" >/dev/null
t1=$(date +%s.%N)
s3curl GET read/big.bin -o /dev/null
t2=$(date +%s.%N)
echo "info: 64 MiB via mount (cat) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; via curl GET $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }') s ($S3_SERVER)"

# --- ls -l of 2,500 objects ---
t0=$(date +%s.%N)
ls -l "$MNT/many" >"$T_TMP/many.ls" 2>"$T_TMP/many.err"
t1=$(date +%s.%N)
echo "info: ls -l of 2500 objects took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s ($S3_SERVER)"
t_check "ls -l many: entries" "$(grep -c ' f[0-9]*$' "$T_TMP/many.ls")" 2500
t_check "ls -l many: no errors" "$(wc -c <"$T_TMP/many.err")" 0
t_check "ls -l many: every size is the length of its name's number" \
  "$(awk '/ f[0-9]+$/ { n = substr($9, 2); if ($5 != length(n)) bad++ } END { print bad + 0 }' "$T_TMP/many.ls")" 0
t_check "ls many: names" "$(ls "$MNT/many" | sort | md5sum)" "$(seq 1 2500 | sed 's/^/f/' | sort | md5sum)"
t_check "cat many/f2500" "$(cat "$MNT/many/f2500")" 2500

# --- nested directories, markers, implied prefixes ---
if [ "$S3_SERVER" = s3rver ]; then
  # s3rver's ListObjects drops common prefixes of keys more than one level
  # below the prefix (node_modules/s3rver/lib/stores/filesystem.js prunes those
  # directories), so tree/a/ is invisible there: a server bug, not ours.
  echo "skip implied a/b/c over s3rver (its listing omits deeper common prefixes)"
  deep=""
else
  t_check "implied dir a/b/c" "$(stat -c %F "$MNT/tree/a/b/c" 2>&1)" directory
  t_check "deep file" "$(cat "$MNT/tree/a/b/c/deep.txt" 2>&1)" deep
  deep="./a ./a/b ./a/b/c ./a/b/c/deep.txt "
fi
t_check "ls tree" "$(ls "$MNT/tree" | tr '\n' ' ')" "${deep:+a }both marker x.txt "
t_check "marker is an empty dir" "$(stat -c %F "$MNT/tree/marker" 2>&1)/$(ls -A "$MNT/tree/marker" | wc -l)" \
  directory/0
t_check "file-and-prefix shows the directory" "$(stat -c %F "$MNT/tree/both" 2>&1)" directory
t_check "child under file-and-prefix" "$(cat "$MNT/tree/both/child" 2>&1)" deep
t_check "find tree" "$(cd "$MNT/tree" && find . | sort | tr '\n' ' ')" \
  ". ${deep}./both ./both/child ./marker ./x.txt "
t_check "missing file" "$(stat -c %s "$MNT/tree/nope" 2>&1 | grep -c 'No such file')" 1
t_check "root lists top dirs" "$(ls "$MNT" | tr '\n' ' ')" "many read tree "

m_umount "$MNT"
if m_is_mounted "$MNT"; then t_fail "unmounted"; else t_ok "unmounted"; fi
t_summary
