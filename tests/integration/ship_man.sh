#!/usr/bin/env bash
# ship_man.sh - the manual page: groff -ww and man -l render man/bucketfs.1
# without a warning; it has the sections a user looks for (SECURITY stating
# the trust model among them); its option entries
# and `bucketfs --help` list the same options (names, --long spellings,
# aliases, the fstab options accepted and ignored, numeric defaults); the
# status --json members and the credential variables are documented.
# Needs no server.
set -uo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BIN=${BUCKETFS_BIN:-${BUILD:-build}/bucketfs}
PAGE=${BUCKETFS_MAN_PAGE:-$BUCKETFS_ROOT/man/bucketfs.1}
[ -x "$BIN" ] || t_abort "no bucketfs binary at $BIN (run make)"
[ -f "$PAGE" ] || t_abort "no man page at $PAGE"
command -v groff >/dev/null || t_abort "groff missing (apt-get install groff-base)"

# --- lint: not one warning ---
groff -ww -man -Tutf8 "$PAGE" >/dev/null 2>"$T_TMP/groff.err"
t_check "groff -ww -man exits 0" "$?" 0
t_check "groff -ww -man: no warnings" "$(cat "$T_TMP/groff.err")" ""
groff -ww -z -man -Tascii "$PAGE" 2>"$T_TMP/groff2.err"
t_check "groff -ww -Tascii: no warnings" "$(cat "$T_TMP/groff2.err")" ""
if command -v man >/dev/null; then
  MANWIDTH=80 man --warnings=all -l "$PAGE" >"$T_TMP/man.out" 2>"$T_TMP/man.err"
  t_check "man -l exits 0" "$?" 0
  t_check "man -l: no warnings" "$(cat "$T_TMP/man.err")" ""
  if grep -q '^NAME' "$T_TMP/man.out"; then t_ok "man -l renders"; else t_fail "man -l renders" "no NAME"; fi
else
  t_fail "man -l" "man missing (apt-get install man-db)"
fi

# Plain text, long lines (no wrapped tags), no bold/underline escapes.
groff -man -Tascii -P-cbou -rLL=200n "$PAGE" >"$T_TMP/page.txt" 2>/dev/null
section() { awk -v s="$1" '/^[A-Z]/ { on = ($0 == s) } on' "$T_TMP/page.txt"; }

for s in NAME SYNOPSIS DESCRIPTION OPTIONS SUBCOMMANDS GUARANTEES "CHECKPOINT AND RESUME" CREDENTIALS METRICS SECURITY \
  FILES ENVIRONMENT \
  "EXIT STATUS" EXAMPLES "SEE ALSO"; do
  if grep -qx -- "$s" "$T_TMP/page.txt"; then t_ok "section $s"; else t_fail "section $s" "missing"; fi
done
# SECURITY states the trust model: who may use a mount, the cache dir, http://.
missing=''
for w in "Who may use a mount" "The cache directory" "Over the network" allow_other default_permissions \
  no_default_permissions "world-writable" "sticky" "http://" "in clear" no_verify_ssl; do
  section SECURITY | grep -qF -- "$w" || missing+=" [$w]"
done
t_check "SECURITY: the trust model" "$missing" ""

# --- options: --help and the man page agree ---
"$BIN" --help >"$T_TMP/help" 2>&1
t_check "--help exits 0" "$?" 0
# --help: entries are lines "  -x, -o name=V, --name V" (two spaces, a dash)
grep -E '^  -' "$T_TMP/help" >"$T_TMP/help.tags"
# man: the tag lines of the OPTIONS section (seven spaces, a dash)
section OPTIONS | grep -E '^       -' >"$T_TMP/man.tags"
t_check "man lists options" "$([ -s "$T_TMP/man.tags" ] && echo yes)" yes
t_check "--help lists options" "$([ -s "$T_TMP/help.tags" ] && echo yes)" yes
o_names() { grep -oE -- '-o [a-z_]+' "$1" | cut -c4- | sort -u; }
long_names() { grep -oE -- '--[a-z][a-z-]*' "$1" | sort -u; }
short_names() { grep -oE -- '(^|[ ,])-[a-zA-Z]\b' "$1" | grep -v -- '-o$' | tr -d ' ,' | sort -u; }
o_names "$T_TMP/help.tags" >"$T_TMP/help.o"
o_names "$T_TMP/man.tags" >"$T_TMP/man.o"
long_names "$T_TMP/help.tags" >"$T_TMP/help.long"
long_names "$T_TMP/man.tags" >"$T_TMP/man.long"
short_names "$T_TMP/help.tags" >"$T_TMP/help.short"
short_names "$T_TMP/man.tags" >"$T_TMP/man.short"
agree() {
  local what=$1 h=$2 m=$3 only_h only_m
  only_h=$(comm -23 "$h" "$m" | tr '\n' ' ')
  only_m=$(comm -13 "$h" "$m" | tr '\n' ' ')
  if [ -z "$only_h$only_m" ] && [ -s "$h" ]; then
    t_ok "$what agree ($(wc -l <"$h"))"
  else
    t_fail "$what agree" "only in --help: [${only_h}] only in man: [${only_m}]"
  fi
}
agree "-o option names" "$T_TMP/help.o" "$T_TMP/man.o"
agree "--long names" "$T_TMP/help.long" "$T_TMP/man.long"
agree "short flags" "$T_TMP/help.short" "$T_TMP/man.short"

# Aliases ("also spelled: a b") appear in the man page's OPTIONS section.
section OPTIONS >"$T_TMP/man.options"
missing=''
for a in $(sed -n 's/^ *also spelled: //p' "$T_TMP/help"); do
  grep -qw -- "$a" "$T_TMP/man.options" || missing+=" $a"
done
t_check "aliases documented" "$missing" ""

# The fstab/mount options accepted and ignored.
ignored=$(awk '/^Accepted from fstab/ { on = 1 } on && /^$/ { on = 0 } on' "$T_TMP/help" |
  sed 's/^Accepted from fstab\/mount and ignored://' | tr ',' '\n' | tr -d ' ' | grep -v '^$')
t_check "--help lists ignored options" "$([ -n "$ignored" ] && echo yes)" yes
missing=''
for a in $ignored; do
  a=${a%...}
  grep -qF -- "$a" "$T_TMP/man.options" || missing+=" $a"
done
t_check "ignored options documented" "$missing" ""

# Simple defaults: "(default: N|on|off)" in --help is "Default: N." in the man entry.
# Entries of --help: a tag line and its indented text, joined into one line.
awk '/^  -/ { if (e) print e; e = $0; next } /^      / && e { sub(/^ +/, " "); e = e $0; next } { if (e) print e; e = "" }
  END { if (e) print e }' "$T_TMP/help" >"$T_TMP/help.entries"
awk '/^       -/ { if (e) print e; e = $0; next } /^              / && e { sub(/^ +/, " "); e = e $0; next }
  { if (e) print e; e = "" } END { if (e) print e }' "$T_TMP/man.options" >"$T_TMP/man.entries"
checked=0 bad=''
while IFS= read -r entry; do
  name=$(grep -oE -- '--[a-z][a-z-]*' <<<"$entry" | head -n 1)
  def=$(grep -oE '\(default: ([0-9]+|on|off)\)' <<<"$entry" | sed 's/.*: //; s/)//')
  [ -n "$name" ] && [ -n "$def" ] || continue
  checked=$((checked + 1))
  mentry=$(grep -E -- "(^|[ ,])$name( |,|$)" "$T_TMP/man.entries" | head -n 1)
  grep -qE "Default: $def\b" <<<"$mentry" || bad+=" $name($def)"
done <"$T_TMP/help.entries"
t_check "simple defaults agree ($checked checked)" "$bad" ""

# --- status --json and the environment ---
section SUBCOMMANDS >"$T_TMP/man.sub"
missing=''
for f in version state_dir pending failed damaged total files bytes bytes_done key size parts_done \
  parts_total part_size state attempts generation upload_id staging_path last_error updated; do
  grep -qE -- "^       $f( |$)|^       [a-z_]+ +.*\b$f\b" "$T_TMP/man.sub" || missing+=" $f"
done
t_check "status --json fields documented" "$missing" ""
for v in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN OSS_ACCESS_KEY_ID OSS_ACCESS_KEY_SECRET \
  OSS_SESSION_TOKEN; do
  section ENVIRONMENT | grep -qw -- "$v" || t_fail "ENVIRONMENT lists $v"
done
t_ok "ENVIRONMENT lists the credential variables"
missing=''
for p in 's3fs(1)' 'fusermount3(1)' 'mount(8)' 'fstab(5)'; do
  section "SEE ALSO" | grep -qF -- "$p" || missing+=" $p"
done
t_check "SEE ALSO" "$missing" ""
missing=''
for f in checkpoint data.mdb lock.mdb staging ID.data ID.mark user.bucketfs.mark mounts; do
  section FILES | grep -qF -- "$f" || missing+=" $f"
done
t_check "FILES: cache layout" "$missing" ""
t_summary
