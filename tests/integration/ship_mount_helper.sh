#!/usr/bin/env bash
# ship_mount_helper.sh - mount(8) through the installed helper, over Ceph RGW:
# `make install DESTDIR=...`, /sbin/mount.bucketfs and /usr/local/bin/bucketfs
# linked to those copies for the test (whatever was there is put back at
# exit), then
#   - `mount -t bucketfs BUCKET DIR -o ...,_netdev,nofail,x-systemd.*,...`
#     mounts (fuse.bucketfs in /proc/mounts), reads, and `umount` unmounts;
#   - an fstab line `BUCKET:/prefix DIR bucketfs _netdev,...` (mount -T FILE);
#   - `mount -t fuse.bucketfs` (mount.fuse3 running bucketfs from PATH);
#   - a failing mount exits non-zero with bucketfs's reason, nothing mounted;
#   - once the write path works: a large file written and unmounted at once is
#     kept pending (`bucketfs status --json`) and uploaded after a remount.
# Needs root (mount(8), /sbin).
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BUILD=${BUILD:-build}
ROOT=$BUCKETFS_ROOT
HELPER_LINK=/sbin/mount.bucketfs
[ -x "$ROOT/$BUILD/bucketfs" ] || t_abort "no bucketfs binary at $ROOT/$BUILD/bucketfs (run make)"
if [ "$(id -u)" != 0 ]; then
  echo "skip: mount(8) helper tests need root"
  t_summary
  exit 0
fi
command -v fusermount3 >/dev/null || t_abort "fusermount3 missing (apt-get install fuse3)"
with_server rgw || t_abort "cannot start rgw"

DEST=$T_TMP/dest
make -C "$ROOT" --no-print-directory BUILD="$BUILD" DESTDIR="$DEST" install >"$T_TMP/make.out" 2>&1 ||
  t_abort "make install DESTDIR=$DEST failed: $(tail -n 3 "$T_TMP/make.out")"
IBIN=$DEST/usr/local/bin/bucketfs
IHELPER=$DEST/sbin/mount.bucketfs
[ -x "$IBIN" ] && [ -x "$IHELPER" ] || t_abort "make install did not install bucketfs and mount.bucketfs"
# mount(8) finds /sbin/mount.bucketfs, and runs helpers with a PATH of its own
# (mount.fuse3 runs `bucketfs` from it); the helper runs $BINDIR/bucketfs.
# So, for this test, both system paths point at the DESTDIR copies; whatever
# was there is moved aside and put back at exit.
unset BUCKETFS_PROGRAM
# link_for_test PATH TARGET
link_for_test() {
  local saved
  saved=$T_TMP/saved.$(echo "$1" | tr / _)
  if [ -e "$1" ] || [ -L "$1" ]; then mv "$1" "$saved" || t_abort "cannot move $1 aside"; fi
  # runs before the rm -rf of $T_TMP (the cleanup stack is LIFO)
  t_cleanup_push restore_link "$1" "$saved"
  ln -s "$2" "$1" || t_abort "cannot link $1"
}
restore_link() {
  rm -f "$1"
  if [ -e "$2" ] || [ -L "$2" ]; then mv "$2" "$1"; fi
}
link_for_test "$HELPER_LINK" "$IHELPER"
link_for_test /usr/local/bin/bucketfs "$IBIN"

printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$T_TMP/passwd"
chmod 600 "$T_TMP/passwd"
CACHE=$T_TMP/cache
OPTS="endpoint=$S3_ENDPOINT,region=$S3_REGION,sigv=4,passwd_file=$T_TMP/passwd,cache_dir=$CACHE"
MNT=$T_TMP/mnt
mkdir -p "$MNT"
m_is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
m_type() { awk -v m="$1" '$2 == m { print $1, $3 }' /proc/mounts; }
# the daemon serving DIR (its command line names DIR)
m_pid() { pgrep -f -- "bucketfs .* $1( |$)" | head -n 1; }
m_force_unmount() { if m_is_mounted "$1"; then umount "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null; fi; }
t_cleanup_push m_force_unmount "$MNT"
# m_umount NAME DIR: umount(8), then wait (30 s) for the daemon to exit
m_umount() {
  local pid
  pid=$(m_pid "$2")
  umount "$2" 2>"$T_TMP/umount.err"
  t_check "$1: umount exits 0" "$?" 0
  for _ in $(seq 1 150); do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if m_is_mounted "$2"; then t_fail "$1: unmounted" "still in /proc/mounts"; else t_ok "$1: unmounted"; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then t_fail "$1: daemon exits" "pid $pid alive"; else t_ok "$1: daemon exits"; fi
}

printf 'hello\n' >"$T_TMP/h.txt"
t_check "put hello.txt" "$(s3_status PUT hello.txt -T "$T_TMP/h.txt")" 200
t_check "put photos/p.txt" "$(s3_status PUT photos/p.txt -T "$T_TMP/h.txt")" 200

# --- mount -t bucketfs, with the options fstab and systemd add ---
timeout 60 mount -t bucketfs "$S3_BUCKET" "$MNT" \
  -o "$OPTS,_netdev,nofail,noauto,user,x-systemd.automount,x-systemd.requires=network-online.target,comment=hi,defaults,rw,nosuid,nodev" \
  >"$T_TMP/out" 2>"$T_TMP/err"
t_check "mount -t bucketfs exits 0" "$?" 0
# quiet but for the warning about the test server's plain http:// (security_output.sh)
t_check "mount -t bucketfs: quiet" "$(cat "$T_TMP/out" "$T_TMP/err" | grep -v 'warning: endpoint http://.* is plain http')" ""
t_check "mount -t bucketfs: in /proc/mounts" "$(m_type "$MNT")" "$S3_BUCKET fuse.bucketfs"
t_check "mount -t bucketfs: reads" "$(cat "$MNT/hello.txt" 2>&1)" hello
m_umount "mount -t bucketfs" "$MNT"

# --- -v: mount(8) passes it on and the helper shows the command ---
timeout 60 mount -v -t bucketfs "$S3_BUCKET" "$MNT" -o "$OPTS,_netdev" >"$T_TMP/out" 2>&1
t_check "mount -v exits 0" "$?" 0
if grep -qF "mount.bucketfs: /usr/local/bin/bucketfs $S3_BUCKET $MNT -o $OPTS" "$T_TMP/out"; then
  t_ok "mount -v: helper prints the bucketfs command"
else
  t_fail "mount -v: helper prints the bucketfs command" "$(cat "$T_TMP/out")"
fi
m_umount "mount -v" "$MNT"

# --- the helper's own -f (fake): nothing runs ---
"$HELPER_LINK" "$S3_BUCKET" "$MNT" -f -o "$OPTS,_netdev" >"$T_TMP/out" 2>&1
t_check "helper -f exits 0" "$?" 0
if m_is_mounted "$MNT"; then t_fail "helper -f mounts nothing"; m_force_unmount "$MNT"; else t_ok "helper -f mounts nothing"; fi

# --- an fstab line with a prefix: mount -T FSTAB DIR ---
printf '# test fstab\n%s:/photos %s bucketfs _netdev,allow_other,%s 0 0\n' "$S3_BUCKET" "$MNT" "$OPTS" >"$T_TMP/fstab"
timeout 60 mount -T "$T_TMP/fstab" "$MNT" >"$T_TMP/out" 2>&1
t_check "fstab line: mount exits 0" "$?" 0
t_check "fstab line: in /proc/mounts" "$(m_type "$MNT")" "$S3_BUCKET:/photos fuse.bucketfs"
t_check "fstab line: the prefix is the root" "$(ls "$MNT" 2>&1 | tr '\n' ' ')" "p.txt "
t_check "fstab line: allow_other passed" "$(awk -v m="$MNT" '$2 == m { print ($4 ~ /allow_other/) }' /proc/mounts)" 1
m_umount "fstab line" "$MNT"

# --- type fuse.bucketfs: mount.fuse3 runs `bucketfs` from mount(8)'s PATH ---
if command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ]; then
  timeout 60 mount -t fuse.bucketfs "$S3_BUCKET" "$MNT" -o "$OPTS,_netdev,nofail" \
    >"$T_TMP/out" 2>&1
  t_check "mount -t fuse.bucketfs exits 0 $(cat "$T_TMP/out")" "$?" 0
  t_check "mount -t fuse.bucketfs: reads" "$(cat "$MNT/hello.txt" 2>&1)" hello
  m_umount "mount -t fuse.bucketfs" "$MNT"
else
  echo "skip: mount.fuse3 missing, -t fuse.bucketfs not tried"
fi

# --- a mount that cannot work fails through mount(8) with bucketfs's reason ---
timeout 60 mount -t bucketfs "no-such-bucket-$$" "$MNT" -o "$OPTS,_netdev" >"$T_TMP/out" 2>&1
rc=$?
if [ "$rc" != 0 ]; then t_ok "missing bucket: mount fails ($rc)"; else t_fail "missing bucket: mount fails" "exit 0"; fi
if grep -q "NoSuchBucket" "$T_TMP/out"; then t_ok "missing bucket: says why"; else t_fail "missing bucket: says why" "$(cat "$T_TMP/out")"; fi
if m_is_mounted "$MNT"; then t_fail "missing bucket: nothing mounted"; m_force_unmount "$MNT"; else t_ok "missing bucket: nothing mounted"; fi

# --- pending uploads survive umount and finish after the next mount ---
timeout 60 mount -t bucketfs "$S3_BUCKET" "$MNT" -o "$OPTS,unmount_grace=0,_netdev" >"$T_TMP/out" 2>&1 || t_abort "remount failed: $(cat "$T_TMP/out")"
if ! (printf 'probe\n' >"$MNT/probe.txt") 2>"$T_TMP/probe.err"; then
  echo "skip: writing into the mount fails ($(cat "$T_TMP/probe.err")): the write path has not landed;"
  echo "      the pending-across-umount check is not run"
  m_umount "no write path" "$MNT"
  t_summary
  exit
fi
t_ok "write path: a file can be written"
# Large enough (many parts) that the upload cannot finish before the umount
# below returns; unmount_grace=0 stops it at once.
SIZE_MIB=${SHIP_BIG_MIB:-96}
head -c $((SIZE_MIB << 20)) /dev/urandom >"$T_TMP/big.src"
cp "$T_TMP/big.src" "$MNT/big.bin"
t_check "big file written" "$?" 0
umount "$MNT"
t_check "umount right after the write" "$?" 0
for _ in $(seq 1 150); do
  [ -z "$(m_pid "$MNT")" ] && break
  sleep 0.2
done
if m_is_mounted "$MNT"; then t_fail "unmounted with uploads pending"; else t_ok "unmounted with uploads pending"; fi
"$IBIN" status --cache-dir "$CACHE" --bucket "$S3_BUCKET" --json >"$T_TMP/status.json" 2>"$T_TMP/status.err"
echo "  status: $(head -c 400 "$T_TMP/status.json")"
big_status=$(s3_status HEAD big.bin)
if grep -q '"key":"big.bin"' "$T_TMP/status.json"; then
  t_ok "status --json shows big.bin pending after umount"
  t_check "not in the bucket yet (or incomplete)" "$([ "$big_status" = 200 ] && echo complete || echo absent)" absent
elif [ "$big_status" = 200 ]; then
  t_fail "status --json shows big.bin pending after umount" "it was uploaded before umount returned (raise SHIP_BIG_MIB)"
else
  t_fail "status --json shows big.bin pending after umount" "neither pending nor in the bucket: $(cat "$T_TMP/status.json" "$T_TMP/status.err")"
fi
# Every member the store wrote is one the man page documents.
if command -v python3 >/dev/null && [ -s "$T_TMP/status.json" ]; then
  undocumented=''
  for k in $(python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); ks = set(d) | set(d["total"])
for r in d["pending"] + d["failed"]: ks |= set(r)
print("\n".join(sorted(ks)))' "$T_TMP/status.json"); do
    groff -man -Tascii -P-cbou "$ROOT/man/bucketfs.1" 2>/dev/null | grep -qw -- "$k" || undocumented+=" $k"
  done
  t_check "status --json members are in the man page" "$undocumented" ""
fi

timeout 60 mount -t bucketfs "$S3_BUCKET" "$MNT" -o "$OPTS,_netdev" >"$T_TMP/out" 2>&1
t_check "remount exits 0" "$?" 0
timeout 300 "$IBIN" status --cache-dir "$CACHE" --bucket "$S3_BUCKET" --wait --timeout 240 >"$T_TMP/wait.out" 2>&1
t_check "status --wait: nothing pending after remount" "$?" 0
t_check "big.bin in the bucket" "$(s3_status HEAD big.bin)" 200
s3curl GET big.bin -o "$T_TMP/big.got"
if cmp -s "$T_TMP/big.src" "$T_TMP/big.got"; then t_ok "big.bin content intact"; else t_fail "big.bin content intact" "differs"; fi
t_check "probe.txt in the bucket" "$(s3curl GET probe.txt)" probe
m_umount "after resume" "$MNT"
t_summary
