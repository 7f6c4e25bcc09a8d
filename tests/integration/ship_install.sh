#!/usr/bin/env bash
# ship_install.sh - `make install` and `make uninstall` into a DESTDIR: exactly
# bucketfs (0755), /sbin/mount.bucketfs (0755, told where bucketfs lives) and
# the man page (0644), at the default PREFIX and at PREFIX=/usr with
# SBINDIR=/usr/sbin; the installed binary is the built one and runs; man finds
# the installed page; uninstall leaves no file behind. Needs no server.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BUILD=${BUILD:-build}
ROOT=$BUCKETFS_ROOT
[ -x "$ROOT/$BUILD/bucketfs" ] || t_abort "no bucketfs binary at $ROOT/$BUILD/bucketfs (run make)"

# files_in DIR: "mode path" of every non-directory under DIR, sorted
files_in() { (cd "$1" && find . ! -type d -printf '%m %P\n' | sort); }

# check_install NAME DEST BINDIR SBINDIR MANDIR [make vars...]
check_install() {
  local name=$1 dest=$2 bindir=$3 sbindir=$4 mandir=$5 want
  shift 5
  rm -rf "$dest"
  mkdir -p "$dest"
  if make -C "$ROOT" --no-print-directory BUILD="$BUILD" DESTDIR="$dest" "$@" install >"$T_TMP/make.out" 2>&1; then
    t_ok "$name: make install"
  else
    t_fail "$name: make install" "$(tail -n 5 "$T_TMP/make.out")"
    return
  fi
  want=$(printf '%s\n' "755 ${bindir#/}/bucketfs" "755 ${sbindir#/}/mount.bucketfs" \
    "644 ${mandir#/}/man1/bucketfs.1" | sort)
  t_check "$name: exactly the expected files and modes" "$(files_in "$dest")" "$want"
  if cmp -s "$ROOT/$BUILD/bucketfs" "$dest$bindir/bucketfs"; then t_ok "$name: the built binary"; else t_fail "$name: the built binary" "differs"; fi
  t_check "$name: installed bucketfs runs" "$("$dest$bindir/bucketfs" --version 2>&1 | grep -c '^bucketfs [0-9]')" 1
  t_check "$name: man page is man/bucketfs.1" "$(cmp -s "$ROOT/man/bucketfs.1" "$dest$mandir/man1/bucketfs.1" && echo same)" same
  t_check "$name: helper knows BINDIR" "$(grep -cF "prog='$bindir/bucketfs'" "$dest$sbindir/mount.bucketfs")" 1
  t_check "$name: no @BINDIR@ left" "$(grep -c '@BINDIR@' "$dest$sbindir/mount.bucketfs")" 0
  # The helper runs the bucketfs it was installed with: -f (fake) -v prints the command.
  out=$("$dest$sbindir/mount.bucketfs" mybucket /mnt/x -fv -o _netdev,uid=7 2>&1)
  t_check "$name: helper -fv" "$out" "mount.bucketfs: $([ -x "$bindir/bucketfs" ] && echo "$bindir/bucketfs" || echo bucketfs) mybucket /mnt/x -o uid=7"
  if command -v man >/dev/null; then
    MANWIDTH=80 man -M "$dest$mandir" bucketfs >"$T_TMP/man.out" 2>"$T_TMP/man.err"
    if grep -q '^NAME' "$T_TMP/man.out" && [ ! -s "$T_TMP/man.err" ]; then
      t_ok "$name: man -M finds the installed page"
    else
      t_fail "$name: man -M finds the installed page" "$(head -n 3 "$T_TMP/man.err")"
    fi
  fi

  if make -C "$ROOT" --no-print-directory BUILD="$BUILD" DESTDIR="$dest" "$@" uninstall >"$T_TMP/make.out" 2>&1; then
    t_ok "$name: make uninstall"
  else
    t_fail "$name: make uninstall" "$(tail -n 5 "$T_TMP/make.out")"
  fi
  t_check "$name: uninstall leaves no file" "$(files_in "$dest")" ""
  # uninstall is idempotent (rm -f): a second run succeeds too
  make -C "$ROOT" --no-print-directory BUILD="$BUILD" DESTDIR="$dest" "$@" uninstall >/dev/null 2>&1
  t_check "$name: second uninstall succeeds" "$?" 0
}

check_install "default PREFIX" "$T_TMP/d1" /usr/local/bin /sbin /usr/local/share/man
check_install "PREFIX=/usr SBINDIR=/usr/sbin" "$T_TMP/d2" /usr/bin /usr/sbin /usr/share/man PREFIX=/usr SBINDIR=/usr/sbin
check_install "BINDIR and MANDIR" "$T_TMP/d3" /opt/bfs/bin /sbin /opt/bfs/man BINDIR=/opt/bfs/bin MANDIR=/opt/bfs/man

# mount(8) looks for /sbin/mount.TYPE: the default SBINDIR must be /sbin whatever PREFIX is.
t_check "SBINDIR defaults to /sbin" "$(make -C "$ROOT" --no-print-directory -pn PREFIX=/opt/x install 2>/dev/null |
  sed -n 's/^SBINDIR [?:]*= //p' | head -n 1)" /sbin
t_summary
