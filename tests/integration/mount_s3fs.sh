#!/usr/bin/env bash
# mount_s3fs.sh - s3fs compatibility over Ceph RGW, both ways, with Debian's
# real s3fs mounted on the same bucket: what s3fs writes (dirs, a file with
# chmod/touch -d, separate atime and mtime, a symlink, a FIFO and a device
# node) looks the same through bucketfs (type, mode, uid, gid, mtime, atime,
# size, link target), and what bucketfs writes through its namespace
# operations (mkdir, chmod, chown, touch -d, symlink, mkfifo, mknod) looks
# the same through s3fs.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
if ! command -v s3fs >/dev/null; then
  if command -v apt-get >/dev/null && ! pgrep -x apt-get >/dev/null && ! pgrep -x dpkg >/dev/null; then
    echo "s3fs missing: installing Debian's s3fs" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q s3fs >/dev/null 2>&1
  fi
  if ! command -v s3fs >/dev/null; then
    echo "skip: s3fs is not installed and could not be installed (apt-get install s3fs)"
    t_summary
    exit 0
  fi
fi
with_server rgw || t_abort "cannot start rgw"

# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

MNT=$T_TMP/mnt
SMNT=$T_TMP/s3fs
# s3fs_mount: s3fs in the foreground in the background, waits for the mount
s3fs_mount() {
  local pid i
  mkdir -p "$SMNT"
  s3fs "$S3_BUCKET" "$SMNT" -f -o "url=$S3_ENDPOINT,use_path_request_style,passwd_file=$T_TMP/passwd" \
    -o "endpoint=$S3_REGION,stat_cache_expire=1" >>"$T_TMP/s3fs.log" 2>&1 &
  pid=$!
  echo "$pid" >"$T_TMP/pid.s3fs"
  t_cleanup_push m_cleanup "$SMNT" "$pid"
  for i in $(seq 1 100); do
    m_is_mounted "$SMNT" && return 0
    sleep 0.2
  done
  tail -n 5 "$T_TMP/s3fs.log" >&2
  return 1
}
# snap ROOT PATH...: type, mode, uid, gid, mtime, size (files) and link target of each PATH
snap() {
  local root=$1 p
  shift
  for p in "$@"; do
    if [ -L "$root/$p" ]; then
      echo "$p $(stat -c '%F %a %u %g %Y' "$root/$p") -> $(readlink "$root/$p")"
    elif [ -d "$root/$p" ]; then
      echo "$p $(stat -c '%F %a %u %g %Y' "$root/$p")"
    elif [ -p "$root/$p" ] || [ -c "$root/$p" ] || [ -b "$root/$p" ]; then
      echo "$p $(stat -c '%F %a %u %g %Y' "$root/$p" 2>&1)"
    else
      echo "$p $(stat -c '%F %a %u %g %Y %X %s' "$root/$p" 2>&1)"
    fi
  done
}

# --- s3fs writes, bucketfs reads ---
s3fs_mount || t_abort "s3fs mount failed"
mkdir -p "$SMNT/sdir/sub"
printf 'written by s3fs\n' >"$SMNT/sdir/f.txt"
chmod 640 "$SMNT/sdir/f.txt"
chown 1234:5678 "$SMNT/sdir/f.txt"
touch -d '2021-03-04 05:06:07 UTC' "$SMNT/sdir/f.txt"
touch -a -d '2022-01-01 00:00:00 UTC' "$SMNT/sdir/f.txt"
chmod 751 "$SMNT/sdir/sub"
ln -s sdir/f.txt "$SMNT/slink"
mkfifo -m 620 "$SMNT/sdir/fifo"
touch -h -d '2021-05-05 05:05:05 UTC' "$SMNT/sdir/fifo"
S_PATHS=(sdir sdir/sub sdir/f.txt slink sdir/fifo)
sync
sleep 2 # s3fs uploads on close; let the stat cache expire
snap "$SMNT" "${S_PATHS[@]}" >"$T_TMP/s3fs.view"
m_umount "$SMNT"
echo "s3fs's view:"
sed 's/^/  /' "$T_TMP/s3fs.view"
s3_status HEAD sdir/f.txt >/dev/null
t_check "s3fs stored mode metadata" "$(s3_header x-amz-meta-mode)" $((8#100640))

m_mount "$MNT" || t_abort "bucketfs mount failed"
snap "$MNT" "${S_PATHS[@]}" >"$T_TMP/bucketfs.view"
i=0
while IFS= read -r want; do
  got=$(sed -n "$((i + 1))p" "$T_TMP/bucketfs.view")
  t_check "s3fs -> bucketfs: ${S_PATHS[i]}" "$got" "$want"
  i=$((i + 1))
done <"$T_TMP/s3fs.view"
t_check "s3fs -> bucketfs: file bytes" "$(cat "$MNT/sdir/f.txt")" "written by s3fs"
t_check "s3fs -> bucketfs: ls" "$(ls "$MNT" | tr '\n' ' ')" "sdir slink "

# --- bucketfs writes (namespace operations), s3fs reads ---
t_check "put bdir/g.txt" "$(s3_status PUT bdir/g.txt --data-binary 'put by curl')" 200
mkdir -p "$MNT/bmk/inner"
chmod 705 "$MNT/bmk"
chmod 604 "$MNT/bdir/g.txt"
chown 4321:8765 "$MNT/bdir/g.txt"
touch -d '2019-12-31 23:59:58 UTC' "$MNT/bdir/g.txt"
ln -s bdir/g.txt "$MNT/blink"
touch -a -d '2018-08-08 08:08:08 UTC' "$MNT/bdir/g.txt"
mkdir "$MNT/bmk/moved-from"
mv "$MNT/bmk/moved-from" "$MNT/bmk/moved-to"
mkfifo -m 640 "$MNT/bdir/fifo"
touch -d '2017-07-07 07:07:07 UTC' "$MNT/bdir/fifo"
mknod -m 600 "$MNT/bdir/dev" c 1 7
touch -d '2017-07-07 07:07:07 UTC' "$MNT/bdir/dev"
B_PATHS=(bmk bmk/inner bmk/moved-to bdir/g.txt blink bdir/fifo bdir/dev)
snap "$MNT" "${B_PATHS[@]}" >"$T_TMP/bucketfs2.view"
m_umount "$MNT"
echo "bucketfs's view:"
sed 's/^/  /' "$T_TMP/bucketfs2.view"

s3fs_mount || t_abort "s3fs remount failed"
snap "$SMNT" "${B_PATHS[@]}" >"$T_TMP/s3fs2.view"
i=0
while IFS= read -r want; do
  got=$(sed -n "$((i + 1))p" "$T_TMP/s3fs2.view")
  t_check "bucketfs -> s3fs: ${B_PATHS[i]}" "$got" "$want"
  i=$((i + 1))
done <"$T_TMP/bucketfs2.view"
t_check "bucketfs -> s3fs: read through symlink" "$(cat "$SMNT/blink" 2>&1)" "put by curl"
# s3fs 1.90 neither writes nor reads x-amz-meta-rdev (it shows 0:0); the
# object carries it for bucketfs and other tools that do
s3_status HEAD bdir/dev >/dev/null
t_check "bucketfs -> bucket: the device's number in x-amz-meta-rdev" "$(s3_header x-amz-meta-rdev)" "$(((1 << 8) | 7))"
m_umount "$SMNT"
if m_is_mounted "$SMNT" || m_is_mounted "$MNT"; then t_fail "unmounted"; else t_ok "unmounted"; fi
t_summary
