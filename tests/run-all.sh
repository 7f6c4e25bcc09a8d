#!/usr/bin/env bash
# run-all.sh [BUILD] - unit tests, the power-loss crash states, then
# integration tests (`make test`).
# BUILD is the build dir (default build). Prints the runners' output, the
# per-suite totals, the elapsed time, and as the very last line the grand total
# "N passed, N failed". Exits non-zero if either suite failed or ran nothing.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${1:-${BUILD:-build}}
T0=$SECONDS
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

total_p=0
total_f=0
status=0
summary=()
# suite NAME CMD...: run a runner, add its last line's counts
suite() {
  local name=$1 rc last p=0 f=1
  shift
  "$@" 2>&1 | tee "$OUT"
  rc=${PIPESTATUS[0]}
  last=$(grep -v '^[[:space:]]*$' "$OUT" | tail -n 1)
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    p=${BASH_REMATCH[1]}
    f=${BASH_REMATCH[2]}
  else
    echo "run-all: $name did not end with \"N passed, N failed\""
  fi
  [ "$rc" = 0 ] || status=1
  [ "$rc" = 0 ] || [ "$f" != 0 ] || f=1 # failed without a failed test: count one
  total_p=$((total_p + p))
  total_f=$((total_f + f))
  summary+=("$name: $p passed, $f failed")
}

shopt -s nullglob
units=()
for b in "$BUILD"/tests/unit/test_*; do
  [ -f "$b" ] && [ -x "$b" ] && units+=("$b")
done
shopt -u nullglob

suite unit tests/run-unit.sh "${units[@]}"
# Power-loss crash states in-process (tests/crash/README.md); the real-binary
# sample of them is one of the integration tests.
suite crash tests/crash/run.sh "$BUILD"
# Three integration tests at a time: they wait on the network and the server
# far more than they compute, and each has its own bucket, mount and ports.
suite integration env BUILD="$BUILD" IT_JOBS="${IT_JOBS:-3}" tests/run-integration.sh

echo
echo "=== all"
printf '%s\n' "${summary[@]}"
echo "elapsed: $((SECONDS - T0)) s"
echo "$total_p passed, $total_f failed"
[ "$status" = 0 ] && [ "$total_f" = 0 ]
