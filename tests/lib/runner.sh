# shellcheck shell=bash
# runner.sh - shared by tests/run-unit.sh, run-integration.sh and run-all.sh:
# run one test program, echo its output, and add its counts to R_PASSED and
# R_FAILED. A program that crashes, times out or exits non-zero without
# reporting a failure counts one extra failure, so nothing broken reads green.

R_PASSED=0
R_FAILED=0
R_FAILED_NAMES=()
R_CHILD=
R_TAIL=
R_OUT=

# _r_exec OUT TIMEOUT CMD [ARGS...]: run CMD under timeout with its output in
# OUT and echoed live; sets R_RC. CMD runs in the background and the runner
# waits with `wait`, so a signal to the runner is handled at once (its trap
# calls r_stop_child) instead of after the test ends.
_r_exec() {
  local out=$1 t=$2
  shift 2
  R_OUT=$out
  : >"$out"
  timeout -k 30 "$t" "$@" </dev/null >"$out" 2>&1 &
  R_CHILD=$!
  tail -s 0.1 -n +1 -f --pid="$R_CHILD" "$out" 2>/dev/null &
  R_TAIL=$!
  wait "$R_CHILD"
  R_RC=$?
  wait "$R_TAIL" 2>/dev/null
  R_CHILD=
  R_TAIL=
}

# r_stop_child: for the runners' signal traps: stop the running test (timeout
# passes SIGTERM on to it, so its own cleanups run) and wait for it: timeout
# -k 30 sends SIGKILL if the test is not gone 30 s later, so the wait is bounded
r_stop_child() {
  if [ -n "$R_CHILD" ] && kill -TERM "$R_CHILD" 2>/dev/null; then
    echo "runner: interrupted; stopping the running test"
    wait "$R_CHILD" 2>/dev/null
  fi
  [ -z "$R_TAIL" ] || kill "$R_TAIL" 2>/dev/null
  [ -z "$R_OUT" ] || rm -f "$R_OUT"
  R_CHILD=
  R_TAIL=
  R_OUT=
}

# _r_record LABEL PASSED FAILED RC
_r_record() {
  local label=$1 p=$2 f=$3 rc=$4
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    f=1
    case $rc in
      124) echo "runner: $label timed out" ;;
      1[3-9][0-9]) echo "runner: $label was killed by signal $((rc - 128))" ;;
      *) echo "runner: $label exited with status $rc without reporting a failure" ;;
    esac
  fi
  if [ "$rc" = 0 ] && [ "$f" != 0 ]; then
    echo "runner: $label reported $f failure(s) but exited 0"
  fi
  R_PASSED=$((R_PASSED + p))
  R_FAILED=$((R_FAILED + f))
  [ "$f" = 0 ] || R_FAILED_NAMES+=("$label")
  echo "runner: $label: $p passed, $f failed"
}

# r_run_cmocka LABEL TIMEOUT CMD [ARGS...]: a cmocka program. Counts come from
# "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"; if it died before
# the summary, from its "[       OK ]" and "[  FAILED  ] name" lines.
r_run_cmocka() {
  local label=$1 t=$2 out rc p f
  shift 2
  out=$(mktemp)
  echo "=== $label"
  _r_exec "$out" "$t" "$@"
  rc=$R_RC
  p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$out" | tail -n 1)
  if [ -z "$p" ] && [ -z "$f" ]; then # no summary: crashed or killed
    p=$(grep -c '^\[       OK \]' "$out")
    f=$(grep -c '^\[  FAILED  \] [^0-9]' "$out")
    [ "$rc" != 0 ] || rc=1 # a cmocka program always prints its summary
    echo "runner: $label printed no cmocka summary"
  fi
  rm -f "$out"
  _r_record "$label" "${p:-0}" "${f:-0}" "$rc"
}

# r_run_script LABEL TIMEOUT CMD [ARGS...]: a test whose last line is
# "N passed, N failed".
r_run_script() {
  local label=$1 t=$2 out rc p=0 f=0 last
  shift 2
  out=$(mktemp)
  echo "=== $label"
  _r_exec "$out" "$t" "$@"
  r_record_script "$label" "$out" "$R_RC"
}

# r_record_script LABEL OUT RC: counts from a finished script's output file
# (its last line "N passed, N failed"); removes OUT.
r_record_script() {
  local label=$1 out=$2 rc=$3 p=0 f=0 last
  last=$(grep -v '^[[:space:]]*$' "$out" | tail -n 1)
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    p=${BASH_REMATCH[1]}
    f=${BASH_REMATCH[2]}
  else
    echo "runner: $label did not end with \"N passed, N failed\""
    [ "$rc" != 0 ] || rc=1
  fi
  rm -f "$out"
  _r_record "$label" "$p" "$f" "$rc"
}

# r_failed_list: print the labels that failed, if any
r_failed_list() {
  local n
  for n in "${R_FAILED_NAMES[@]}"; do echo "  failed: $n"; done
}
