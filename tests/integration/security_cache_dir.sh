#!/usr/bin/env bash
# security_cache_dir.sh - a root mount cannot be turned against the system
# through its cache dir or log file, over Ceph RGW. User nobody plants each
# attack in a /tmp-like sticky directory it may write; a root-owned canary
# file stands for /etc/shadow. For each, the mount refuses with one clear line
# (exit 1, nothing mounted) or goes on safely, and the canary is untouched:
#   A. the cache dir pre-created by nobody, its checkpoint `lock` a symlink to
#      the canary (before: the mount truncated the canary and wrote its pid);
#   B. a state dir that is nobody's symlink into nobody's directory, planted
#      while root's cache dir was open to others;
#   C. a cache dir whose parent is world-writable (not sticky), before and
#      after nobody swaps the cache dir for one of its own;
#   D. log_file a symlink to the canary (before: log lines appended to it);
#   E. the mount registry's temp file a symlink to the canary (before:
#      truncated and overwritten);
# and, as controls, a cache dir root creates in the sticky dir mounts fine.
# Also runs the unit tests of these checks (test_private_dir, test_log) as
# nobody. Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
[ "$(id -u)" = 0 ] || t_abort "needs root (plants files as nobody)"
command -v setpriv >/dev/null || t_abort "setpriv missing (util-linux)"
with_server rgw || t_abort "cannot start rgw"
t_cleanup_push t_empty_bucket
# shellcheck source=../lib/mount.sh
. "$(dirname "$0")/../lib/mount.sh"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
chmod 711 "$T_TMP"
SHARED=$T_TMP/tmp # stands for /tmp: world-writable and sticky
mkdir -m 1777 "$SHARED"
chmod 1777 "$SHARED"
CANARY=$T_TMP/canary
CANARY_TEXT="root:canary:must never change"
printf '%s\n' "$CANARY_TEXT" >"$CANARY"
chmod 644 "$CANARY"
MNT=$T_TMP/mnt
mkdir -p "$MNT"
# the options of m_opts with another cache dir
opts_with_cache() { m_opts | sed "s|cache_dir=[^,]*|cache_dir=$1|"; }

canary_intact() {
  if [ "$(cat "$CANARY")" = "$CANARY_TEXT" ]; then t_ok "$1: canary untouched"; else
    t_fail "$1: canary untouched" "now: $(head -c 100 "$CANARY" | tr '\n' ' ')"
    printf '%s\n' "$CANARY_TEXT" >"$CANARY"
  fi
}
# refused NAME GREP OPTS...: a foreground mount with OPTS exits 1 within 60 s
# with one stderr line matching GREP, and leaves no mount.
refused() {
  local name=$1 want=$2 rc
  shift 2
  timeout 60 "$BIN" "$S3_BUCKET" "$MNT" -f -o "$@" >"$T_TMP/out" 2>"$T_TMP/err"
  rc=$?
  t_check "$name: exit status" "$rc" 1
  t_check "$name: one line on stderr" "$(wc -l <"$T_TMP/err")" 1
  if grep -qE -- "$want" "$T_TMP/err"; then t_ok "$name: says why"; else t_fail "$name: message" "$(cat "$T_TMP/err")"; fi
  echo "     | $(cat "$T_TMP/err")"
  if m_is_mounted "$MNT"; then
    t_fail "$name: no mount" "mounted"
    fusermount3 -u "$MNT"
  else t_ok "$name: no mount"; fi
}

# The names bucketfs uses under a cache dir, from a first, ordinary mount.
m_mount "$MNT" || t_abort "plain mount failed"
m_umount "$MNT"
STATE=$(basename "$(ls -d "$T_TMP/cache/$S3_BUCKET"-*)")
REG=$(basename "$(ls "$T_TMP/cache/mounts/" | head -n 1)")
[ -n "$STATE" ] && [ -n "$REG" ] || t_abort "no state dir or registry entry after a mount"
echo "     (state dir $STATE, registry entry $REG)"

# --- A. a cache dir nobody made, its lock a symlink to the canary --------------------
as_nobody mkdir -p "$SHARED/cacheA/$STATE/checkpoint" "$SHARED/cacheA/$STATE/staging"
as_nobody ln -s "$CANARY" "$SHARED/cacheA/$STATE/checkpoint/lock"
as_nobody chmod -R 777 "$SHARED/cacheA"
refused "A: nobody's cache dir" "cache dir refused: .*/tmp/cacheA is owned by uid 65534 \(nobody\)" \
  "$(opts_with_cache "$SHARED/cacheA")"
canary_intact "A"
t_check "A: nobody's dir left as it was" "$(stat -c %U:%a "$SHARED/cacheA")" nobody:777

# --- B. a state dir that is nobody's symlink ---------------------------------------
as_nobody mkdir -p "$SHARED/evil/checkpoint" "$SHARED/evil/staging"
as_nobody ln -s "$CANARY" "$SHARED/evil/checkpoint/lock"
as_nobody ln -s "$SHARED/evil" "$SHARED/stateB"
mkdir -p -m 700 "$T_TMP/cacheB"
mv "$SHARED/stateB" "$T_TMP/cacheB/$STATE" # as if planted while cacheB was open
refused "B: symlinked state dir" "is a symlink owned by uid 65534 \(nobody\)" "$(opts_with_cache "$T_TMP/cacheB")"
canary_intact "B"

# --- C. a world-writable parent -----------------------------------------------------
mkdir -m 777 "$T_TMP/ww" && chmod 777 "$T_TMP/ww"
mkdir -m 700 "$T_TMP/ww/cache"
refused "C: world-writable parent" "/ww is writable by other users \(mode 0777\).*chmod go-w" \
  "$(opts_with_cache "$T_TMP/ww/cache")"
# nobody swaps root's cache dir for its own, lock pointing at the canary
as_nobody mv "$T_TMP/ww/cache" "$T_TMP/ww/old" || t_fail "C: nobody can swap the dir (setup)"
as_nobody mkdir -p "$T_TMP/ww/cache/$STATE/checkpoint"
as_nobody ln -s "$CANARY" "$T_TMP/ww/cache/$STATE/checkpoint/lock"
refused "C: swapped cache dir" "writable by other users" "$(opts_with_cache "$T_TMP/ww/cache")"
canary_intact "C"

# --- D. log_file a symlink ----------------------------------------------------------
as_nobody ln -s "$CANARY" "$SHARED/bucketfs.log"
refused "D: log_file symlink" "log file .*/tmp/bucketfs.log is a symlink" "$(m_opts),log_file=$SHARED/bucketfs.log"
canary_intact "D"

# --- E. the registry's temp file a symlink ------------------------------------------
as_nobody ln -s "$CANARY" "$SHARED/reg.tmp"
mv "$SHARED/reg.tmp" "$T_TMP/cache/mounts/$REG.tmp"
if m_mount "$MNT"; then t_ok "E: mount with a planted registry temp file"; else t_fail "E: mount" "$(tail -n 2 "$M_LOG")"; fi
canary_intact "E"
t_check "E: registry entry is a plain file" "$(stat -c %F "$T_TMP/cache/mounts/$REG")" "regular file"
t_check "E: registry names the state dir" "$(cat "$T_TMP/cache/mounts/$REG")" "$T_TMP/cache/$STATE"
m_umount "$MNT"

# --- controls: what is safe still works ---------------------------------------------
if m_mount "$MNT" -o "cache_dir=$SHARED/rootcache"; then t_ok "control: root's own cache dir in a sticky dir"; else
  t_fail "control: sticky parent" "$(tail -n 2 "$M_LOG")"
fi
echo hello >"$MNT/ok.txt"
"$BIN" status "$MNT" --cache-dir "$SHARED/rootcache" --wait --timeout 60 >/dev/null 2>&1
m_umount "$MNT"
t_check "control: the file reached the bucket" "$(s3curl GET ok.txt)" hello
t_check "control: the cache dir is private" "$(stat -c %a "$SHARED/rootcache")" 700

# --- the unit tests of these checks, as nobody --------------------------------------
UNIT=$(dirname "$BIN")/tests/unit
for u in test_private_dir test_log; do
  if [ ! -x "$UNIT/$u" ]; then
    t_fail "$u as nobody" "no $UNIT/$u (make tests-build)"
    continue
  fi
  as_nobody env TMPDIR="$SHARED" "$UNIT/$u" >"$T_TMP/$u.out" 2>&1
  rc=$?
  if [ "$rc" = 0 ] && grep -q 'PASSED' "$T_TMP/$u.out"; then
    t_ok "$u as nobody: $(grep -o 'PASSED.*' "$T_TMP/$u.out")"
  else
    t_fail "$u as nobody" "rc=$rc $(grep -E 'FAIL|ERROR' "$T_TMP/$u.out" | head -n 3)"
  fi
done
chmod 700 "$T_TMP"
t_summary
