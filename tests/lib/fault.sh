# shellcheck shell=bash
# fault.sh - the fault proxy (tests/tools/faultproxy.js) for the fault_*
# tests: started in front of the server, stopped by PID at exit.
# Needs tests/lib/common.sh sourced and a server up (S3_ENDPOINT, T_TMP).

PROXY=$BUCKETFS_ROOT/tests/tools/faultproxy.js
command -v node >/dev/null || t_abort "node missing"

stop_pid() { kill -TERM "$1" 2>/dev/null; }

# start_proxy [faultproxy flags]: sets PX (URL), PX_PID and PX_LOG; the proxy
# is stopped at exit. Status 1 if it does not answer within 10 s.
start_proxy() {
  local i
  PX_LOG=$T_TMP/proxy.log
  rm -f "$T_TMP/proxy.port"
  node "$PROXY" --upstream "$S3_ENDPOINT" --port-file "$T_TMP/proxy.port" --log "$PX_LOG" "$@" \
    </dev/null >>"$T_TMP/proxy.stderr" 2>&1 &
  PX_PID=$!
  t_cleanup_push stop_pid "$PX_PID"
  for i in $(seq 1 100); do
    [ -s "$T_TMP/proxy.port" ] && break
    sleep 0.1
  done
  [ -s "$T_TMP/proxy.port" ] || return 1
  PX=http://127.0.0.1:$(cat "$T_TMP/proxy.port")
}

# open_uploads: how many multipart uploads the bucket has open
open_uploads() { S3_QUERY=$(s3_query uploads) s3curl GET "" | grep -o '<UploadId>' | wc -l; }
