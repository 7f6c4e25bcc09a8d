#!/usr/bin/env bash
# run-integration.sh - the integration tests, against Ceph RGW and s3rver.
#
# Runs (`make integration` sets BUILD, default build):
#   - every compiled $BUILD/tests/integration/*_it (cmocka), once per server,
#     with S3_ENV_FILE pointing at an env file for that server (format: see
#     tests/servers/start-rgw.sh) whose S3_BUCKET is a fresh bucket of its own;
#   - every tests/integration/*.sh (bash; it must end with "N passed, N failed",
#     tests/lib/common.sh's t_summary). They get S3_ENV_FILE_RGW and
#     S3_ENV_FILE_S3RVER, the env files of the two shared servers; with_server
#     (tests/lib/common.sh) reuses them and makes a fresh bucket per test. Run
#     alone (those variables unset), a .sh test starts a private server.
# Both servers are started once, in parallel, into a temp dir and stopped on
# every exit path (by recorded PID). A server that does not start counts as a
# failure and the tests for it are skipped (and counted failed).
# Also exported: BUILD, BUCKETFS_ROOT, BUCKETFS_BIN ($BUILD/bucketfs, absolute).
# Prints each test's output and, as the last line, the sum "N passed, N failed".
# Exits non-zero on any failure, or when there is no test at all.
# Env: BUILD, IT_TIMEOUT (seconds per test run, default 900),
#      IT_DIR (where the .sh tests are, default tests/integration),
#      IT_SERVERS ("rgw s3rver"; a subset runs the _it programs on fewer servers),
#      IT_ONLY (an extended regex; only tests whose file name matches run),
#      IT_JOBS (how many .sh tests run at once; default 1).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=tests/lib/runner.sh
. tests/lib/runner.sh

BUILD=${BUILD:-build}
IT_DIR=${IT_DIR:-tests/integration}
IT_TIMEOUT=${IT_TIMEOUT:-900}
IT_SERVERS=${IT_SERVERS:-rgw s3rver}
export BUILD BUCKETFS_ROOT=$ROOT
BUCKETFS_BIN=$(cd "$(dirname "$BUILD/bucketfs")" 2>/dev/null && pwd)/bucketfs
export BUCKETFS_BIN

shopt -s nullglob
scripts=()
for s in "$IT_DIR"/*.sh; do
  [ -z "${IT_ONLY:-}" ] || [[ $(basename "$s") =~ $IT_ONLY ]] && scripts+=("$s")
done
bins=()
for b in "$BUILD"/tests/integration/*_it; do
  [ -z "${IT_ONLY:-}" ] || [[ $(basename "$b") =~ $IT_ONLY ]] || continue
  [ -f "$b" ] && [ -x "$b" ] && bins+=("$b")
done
shopt -u nullglob
if [ ${#scripts[@]} = 0 ] && [ ${#bins[@]} = 0 ]; then
  echo "integration: no tests found (no $IT_DIR/*.sh, no $BUILD/tests/integration/*_it)"
  echo "0 passed, 0 failed"
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-it.XXXXXX")
JOB_PIDS=()
STARTERS=()
cleanup() {
  local pid
  trap - EXIT INT TERM HUP
  r_stop_child
  # parallel test jobs: timeout passes the TERM on, so their cleanups run
  for pid in "${JOB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${JOB_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # a start script still running stops its own daemons when signalled
  for pid in "${STARTERS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${STARTERS[@]}"; do wait "$pid" 2>/dev/null; done
  tests/servers/stop-rgw.sh "$WORK/rgw" >/dev/null 2>&1
  tests/servers/stop-s3rver.sh "$WORK/s3rver" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- servers, in parallel (s3rver takes a kernel-picked port, RGW 20000-32000: no clash) ---
declare -A ENVF=()
# The whole suite writes several GiB through one RGW: a bluestore OSD on a
# sparse file keeps that on disk (memstore would hold it all in memory, about
# twice over, and fills up at its capacity).
export OBJECTSTORE=${OBJECTSTORE:-bluestore} STORE_BYTES=${STORE_BYTES:-34359738368}
for srv in rgw s3rver; do
  tests/servers/start-"$srv".sh "$WORK/$srv" >"$WORK/$srv.start" 2>&1 &
  STARTERS+=($!)
done
i=0
for srv in rgw s3rver; do
  wait "${STARTERS[i]}"
  rc=$?
  echo "=== start $srv"
  sed 's/^/  /' "$WORK/$srv.start"
  if [ $rc = 0 ] && [ -f "$WORK/$srv/env" ]; then
    ENVF[$srv]=$WORK/$srv/env
  else
    echo "runner: $srv did not start (status $rc)"
    _r_record "start $srv" 0 1 1
  fi
  i=$((i + 1))
done
STARTERS=()
[ -n "${ENVF[rgw]:-}" ] && export S3_ENV_FILE_RGW=${ENVF[rgw]}
[ -n "${ENVF[s3rver]:-}" ] && export S3_ENV_FILE_S3RVER=${ENVF[s3rver]}

# env_with_bucket SRV NAME: prints the path of a copy of SRV's env file whose
# S3_BUCKET is a new bucket NAME (created here), or fails
env_with_bucket() {
  local srv=$1 name=$2 out="$WORK/env.$2" code
  (
    # shellcheck disable=SC1090
    . "${ENVF[$srv]}"
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -X PUT \
      --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_ENDPOINT/$name") || code=000
    [ "$code" = 200 ] || { echo "runner: creating bucket $name on $srv: HTTP $code" >&2; exit 1; }
  ) || return 1
  sed "s/^S3_BUCKET=.*/S3_BUCKET=$name/" "${ENVF[$srv]}" >"$out"
  echo "$out"
}

n=0
for bin in "${bins[@]}"; do
  name=$(basename "$bin")
  for srv in $IT_SERVERS; do
    n=$((n + 1))
    label="$name [$srv]"
    if [ -z "${ENVF[$srv]:-}" ]; then
      echo "=== $label"
      echo "runner: skipped, $srv is not running"
      _r_record "$label" 0 1 1
      continue
    fi
    bucket=$(echo "it-$n-${name%_it}" | tr 'A-Z_' 'a-z-' | tr -cd 'a-z0-9-' | cut -c1-50)
    if ! envf=$(env_with_bucket "$srv" "$bucket"); then
      _r_record "$label" 0 1 1
      continue
    fi
    S3_ENV_FILE=$envf r_run_cmocka "$label" "$IT_TIMEOUT" "$bin"
  done
done

if [ "${IT_JOBS:-1}" -le 1 ]; then
  for s in "${scripts[@]}"; do
    r_run_script "$(basename "$s")" "$IT_TIMEOUT" bash "$s"
  done
else
  # IT_JOBS scripts at a time (each has its own bucket, mount and ports);
  # their outputs are printed whole, in order, once all have finished.
  JOB_PIDS=()
  declare -A JOB_RC=() JOB_OF=()
  reap_one() { # waits for one job (bash >= 5.1: wait -n -p) and keeps its status
    local done_pid='' rc j
    wait -n -p done_pid
    rc=$?
    if [ -z "$done_pid" ] || [ -z "${JOB_OF[$done_pid]:-}" ]; then
      # nothing (of ours) left to wait for: whatever has no status failed
      [ -n "$done_pid" ] && return 0
      for j in "${!scripts[@]}"; do [ -n "${JOB_RC[$j]:-}" ] || JOB_RC[$j]=1; done
      return 0
    fi
    JOB_RC[${JOB_OF[$done_pid]}]=$rc
  }
  for i in "${!scripts[@]}"; do
    [ "${#JOB_OF[@]}" -lt "$IT_JOBS" ] || [ "$((${#JOB_OF[@]} - ${#JOB_RC[@]}))" -lt "$IT_JOBS" ] || reap_one
    echo "=== starting $(basename "${scripts[i]}")"
    timeout -k 30 "$IT_TIMEOUT" bash "${scripts[i]}" </dev/null >"$WORK/job.$i.out" 2>&1 &
    JOB_PIDS+=($!)
    JOB_OF[$!]=$i
  done
  while [ "${#JOB_RC[@]}" -lt "${#scripts[@]}" ]; do reap_one; done
  for i in "${!scripts[@]}"; do
    echo "=== $(basename "${scripts[i]}")"
    cat "$WORK/job.$i.out"
    r_record_script "$(basename "${scripts[i]}")" "$WORK/job.$i.out" "${JOB_RC[$i]:-1}"
  done
fi

echo
r_failed_list
echo "integration: $R_PASSED passed, $R_FAILED failed"
echo "$R_PASSED passed, $R_FAILED failed"
[ "$R_FAILED" = 0 ] && [ "$R_PASSED" -gt 0 ]
