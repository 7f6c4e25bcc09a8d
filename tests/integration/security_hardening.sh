#!/usr/bin/env bash
# security_hardening.sh - the bucketfs binary is built hardened (the Makefile's
# flags, checked in the ELF file with readelf, as Debian's hardening-check
# does): a position-independent executable, full RELRO (read-only relocations
# after BIND_NOW), stack protector (calls to __stack_chk_fail) and
# _FORTIFY_SOURCE (calls to the checked __*_chk libc functions). A sanitizer
# build (build-address, build-thread) has no _FORTIFY_SOURCE by design, so
# only the first three are checked there. Needs no server.
# Ends with "N passed, N failed".
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
command -v readelf >/dev/null || t_abort "readelf missing (binutils)"

readelf -hW "$BIN" >"$T_TMP/header"
readelf -dW "$BIN" >"$T_TMP/dynamic"
readelf -lW "$BIN" >"$T_TMP/segments"
readelf --dyn-syms -W "$BIN" >"$T_TMP/syms"

if grep -qE 'Type:[[:space:]]+DYN' "$T_TMP/header" && grep -qE 'FLAGS_1.*PIE' "$T_TMP/dynamic"; then
  t_ok "PIE: a position-independent executable"
else
  t_fail "PIE" "$(grep Type: "$T_TMP/header")"
fi
if grep -q GNU_RELRO "$T_TMP/segments"; then t_ok "RELRO: a GNU_RELRO segment"; else t_fail "RELRO" "no GNU_RELRO segment"; fi
if grep -qE '\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW' "$T_TMP/dynamic"; then
  t_ok "BIND_NOW: relocations resolved at start (full RELRO)"
else
  t_fail "BIND_NOW" "$(grep -E 'FLAGS' "$T_TMP/dynamic" | tr -s ' ')"
fi
if grep -qw __stack_chk_fail "$T_TMP/syms"; then t_ok "stack protector: __stack_chk_fail is used"; else
  t_fail "stack protector" "no __stack_chk_fail"
fi
case $(basename "$(dirname "$BIN")") in
  build-*) echo "     (sanitizer build: _FORTIFY_SOURCE is off by design)" ;;
  *)
    fortified=$(grep -oE '__[a-z0-9_]+_chk' "$T_TMP/syms" | grep -v __stack_chk | sort -u | tr '\n' ' ')
    if [ -n "$fortified" ]; then t_ok "_FORTIFY_SOURCE: checked calls $fortified"; else
      t_fail "_FORTIFY_SOURCE" "no __*_chk function is called"
    fi
    ;;
esac
t_summary
