#!/usr/bin/env bash
# run-unit.sh BIN... - run cmocka unit test programs (`make check` passes
# $(BUILD)/tests/unit/test_*). Prints each program's output, then
# "unit: N passed, N failed" and, as the very last line, "N passed, N failed".
# Exits non-zero if any test failed, any program crashed, timed out or exited
# non-zero, or no test ran at all.
# Env: UNIT_TIMEOUT (seconds per program, default 300).
set -uo pipefail
# shellcheck source=tests/lib/runner.sh
. "$(dirname "$0")/lib/runner.sh"
trap 'r_stop_child; exit 130' INT
trap 'r_stop_child; exit 143' TERM
trap 'r_stop_child; exit 129' HUP

for bin in "$@"; do
  if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
    echo "=== $bin"
    echo "runner: $bin is not an executable file"
    _r_record "$bin" 0 1 1
    continue
  fi
  [[ $bin == */* ]] || bin=./$bin
  r_run_cmocka "$(basename "$bin")" "${UNIT_TIMEOUT:-300}" "$bin"
done

echo
r_failed_list
[ $((R_PASSED + R_FAILED)) -gt 0 ] || echo "unit: no tests ran (given: ${*:-nothing})"
echo "unit: $R_PASSED passed, $R_FAILED failed"
echo "$R_PASSED passed, $R_FAILED failed"
[ "$R_FAILED" = 0 ] && [ "$R_PASSED" -gt 0 ]
