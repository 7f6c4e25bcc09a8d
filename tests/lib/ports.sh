# shellcheck shell=bash
# ports.sh - pick free TCP ports on 127.0.0.1 without python or netcat.
# Sourced by tests/servers/*.sh and tests/lib/common.sh.
#
# A port counts as taken if `ss` (iproute2) lists a listener on it, on any
# address, or if a connect to 127.0.0.1 succeeds (the fallback when `ss` is
# missing). Candidates come from 20000-32000 (PORTS_MIN/PORTS_MAX), below
# Linux's default ephemeral range (32768-60999), so outgoing connections never
# hold them. Picking is racy by nature (another process may bind the port
# before we do): callers bind soon after and fail with a clear error if not.

PORTS_MIN=${PORTS_MIN:-20000}
PORTS_MAX=${PORTS_MAX:-32000}

# prints the local ports of all TCP listeners, one per line (empty without ss)
_listening_ports() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Htln 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}'
}

# port_in_use PORT -> status 0 if something listens on PORT
port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    _listening_ports | grep -qx -- "$1" && return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port_range N [EXCLUDE...] -> prints the first port of N consecutive free
# ports, none of them in EXCLUDE (ports the caller already handed out).
free_port_range() {
  local n=$1 try base p ok busy
  shift
  busy=" $* $(_listening_ports | tr '\n' ' ') "
  for ((try = 0; try < 200; try++)); do
    base=$((PORTS_MIN + (RANDOM * 32768 + RANDOM) % (PORTS_MAX - PORTS_MIN - n)))
    ok=1
    for ((p = base; p < base + n; p++)); do
      # without ss the snapshot is empty: probe each candidate directly
      if [[ $busy == *" $p "* ]] || { ! command -v ss >/dev/null 2>&1 && port_in_use "$p"; }; then
        ok=0
        break
      fi
    done
    if [ "$ok" = 1 ]; then
      echo "$base"
      return 0
    fi
  done
  echo "free_port_range: no $n free consecutive ports in $PORTS_MIN-$PORTS_MAX" >&2
  return 1
}

# free_port [EXCLUDE...] -> prints one free port not in EXCLUDE
free_port() { free_port_range 1 "$@"; }
