# shellcheck shell=bash
# common.sh - helpers for the bash integration tests (tests/integration/*.sh).
#
#   #!/usr/bin/env bash
#   set -uo pipefail
#   . "$(dirname "$0")/../lib/common.sh"
#   with_server rgw || t_abort "no server"
#   echo hi >"$T_TMP/f"
#   t_check "put" "$(s3_status PUT a/b.txt -T "$T_TMP/f")" 200
#   t_summary          # last line "N passed, N failed"; non-zero if any failed
#
# Cleanup: sourcing installs EXIT/INT/TERM/HUP traps that run a cleanup stack
# (last pushed, first run). Do not set your own traps; push instead:
#   t_cleanup_push fusermount3 -u "$mnt"
#
# Servers: `with_server rgw|s3rver` reuses the server whose env file the runner
# exported (S3_ENV_FILE_RGW / S3_ENV_FILE_S3RVER, see tests/run-integration.sh)
# and creates a fresh bucket of its own there, so tests never see each other's
# objects. Without those variables it starts a private server in a temp dir
# (bucket $BUCKET or bucketfs-test) and stops it at exit. Either way it exports
# S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_REGION S3_SERVER S3_LOG
# (S3_LOG: the server's access log, one line per request, `"METHOD /path?query
# HTTP/1.1" STATUS`; count requests with t_log_mark / t_log_count).
#
# Keys: s3curl and s3_status take the raw object key and percent-encode it
# (everything but A-Z a-z 0-9 - . _ ~ /). A query string goes in S3_QUERY for
# one call, built with s3_query so that curl 7.88's --aws-sigv4 signs it the
# way RGW checks it (sorted, values encoded, value-less params as `name=`):
#   S3_QUERY=$(s3_query uploads) s3_status POST big.bin
#   S3_QUERY=$(s3_query list-type=2 prefix=dir/) s3_status GET ""

BUCKETFS_ROOT=${BUCKETFS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=tests/lib/ports.sh
. "$BUCKETFS_ROOT/tests/lib/ports.sh"

T_PASSED=0
T_FAILED=0

t_ok() {
  T_PASSED=$((T_PASSED + 1))
  echo "ok   $1"
}
t_fail() {
  T_FAILED=$((T_FAILED + 1))
  echo "FAIL $1: ${2:-}"
}
# t_check NAME GOT WANT
t_check() {
  if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1" "got '$2' want '$3'"; fi
}
# t_summary: prints "N passed, N failed" as the last line; status 1 if any failed
t_summary() {
  echo "$T_PASSED passed, $T_FAILED failed"
  [ "$T_FAILED" = 0 ]
}
# t_abort MSG: count a failure, print the summary and exit non-zero (cleanups run)
t_abort() {
  t_fail "abort" "$*"
  t_summary
  exit 1
}

# --- cleanup stack ---
_T_CLEANUPS=()
# t_cleanup_push CMD [ARGS...]: run CMD ARGS at exit, before earlier pushes
t_cleanup_push() {
  local q
  printf -v q '%q ' "$@"
  _T_CLEANUPS+=("$q")
}
_t_run_cleanups() {
  local i
  for ((i = ${#_T_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_T_CLEANUPS[i]}" </dev/null || true
    unset "_T_CLEANUPS[i]"
  done
  _T_CLEANUPS=()
}
_t_on_exit() {
  local rc=$?
  trap - EXIT
  _t_run_cleanups
  exit "$rc"
}
trap _t_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-test.XXXXXX")
t_cleanup_push rm -rf "$T_TMP"

# --- S3 helpers (curl --aws-sigv4) ---

# s3_encode STRING [SAFE]: percent-encode every byte except A-Z a-z 0-9 - . _ ~
# and the characters in SAFE (default "/"; pass "" to encode "/" too)
s3_encode() {
  local s=$1 safe=${2-/} out='' c i hex
  local LC_ALL=C
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *)
        if [ -n "$safe" ] && [[ $safe == *"$c"* ]]; then
          out+=$c
        else
          printf -v hex '%%%02X' "'$c"
          out+=$hex
        fi
        ;;
    esac
  done
  printf '%s' "$out"
}

# s3_query NAME[=VALUE]...: a query string sorted by name with encoded values
s3_query() {
  local p name val out=''
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    name=${p%%=*}
    if [[ $p == *=* ]]; then val=${p#*=}; else val=''; fi
    out+=${out:+&}$(s3_encode "$name" "")=$(s3_encode "$val" "")
  done < <(printf '%s\n' "$@" | LC_ALL=C sort)
  printf '%s' "$out"
}

# s3_url KEY: URL of KEY (raw) in the bucket, plus ?$S3_QUERY if set
s3_url() {
  local u="$S3_ENDPOINT/$S3_BUCKET"
  [ -n "$1" ] && u+="/$(s3_encode "$1")"
  [ -n "${S3_QUERY:-}" ] && u+="?$S3_QUERY"
  printf '%s' "$u"
}

# s3curl METHOD KEY [curl args...]: a signed request to KEY ("" = the bucket);
# prints the body. HEAD is sent as curl -I.
s3curl() {
  local method=$1 key=$2 m
  shift 2
  if [ "$method" = HEAD ]; then m=(-I); else m=(-X "$method"); fi
  curl -sS --max-time "${S3_CURL_TIMEOUT:-120}" "${m[@]}" \
    --aws-sigv4 "aws:amz:${S3_REGION}:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" "$(s3_url "$key")"
}

# s3_status METHOD KEY [curl args...]: like s3curl but prints only the HTTP
# status; the body goes to $T_TMP/body and the headers to $T_TMP/headers.
s3_status() {
  local method=$1 key=$2
  shift 2
  s3curl "$method" "$key" -o "$T_TMP/body" -D "$T_TMP/headers" -w '%{http_code}' "$@" || true
}

# s3_header NAME: a header's value from the last s3_status call
s3_header() {
  tr -d '\r' <"$T_TMP/headers" | awk -v n="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" \
    'index(tolower($0), n ":") == 1 { sub(/^[^:]*:[ \t]*/, ""); v = $0 } END { print v }'
}

# s3_create_bucket NAME: PUT the bucket on the current server (status 0 on 200)
s3_create_bucket() {
  local code
  code=$(S3_BUCKET=$1 S3_QUERY='' s3curl PUT "" -o /dev/null -w '%{http_code}') || true
  [ "$code" = 200 ] || { echo "s3_create_bucket $1: HTTP $code" >&2; return 1; }
}

# t_load_env FILE: export the S3_* lines of a server env file
t_load_env() {
  local k v
  [ -r "$1" ] || { echo "t_load_env: cannot read $1" >&2; return 1; }
  while IFS='=' read -r k v; do
    case $k in S3_[A-Z_]*) export "$k=$v" ;; esac
  done <"$1"
}

# t_quietly CMD...: run CMD with its output discarded
t_quietly() { "$@" >/dev/null 2>&1; }

# t_empty_bucket: aborts every multipart upload and deletes every object of
# $S3_BUCKET (register it with t_cleanup_push after with_server, so it runs
# after the unmounts and before a private server stops): tests that write a
# lot must not fill the shared server for the ones after them.
t_empty_bucket() {
  local k
  S3_QUERY=$(s3_query uploads) s3curl GET "" 2>/dev/null | grep -o '<Key>[^<]*</Key><UploadId>[^<]*' |
    sed 's|<Key>||; s|</Key><UploadId>|\t|' | while IFS=$'\t' read -r k u; do
      S3_QUERY=$(s3_query "uploadId=$u") s3curl DELETE "$k" -o /dev/null 2>/dev/null
    done
  for _ in 1 2 3; do
    S3_QUERY=$(s3_query list-type=2) s3curl GET "" 2>/dev/null | grep -o '<Key>[^<]*</Key>' |
      sed 's|<Key>||; s|</Key>||' | while IFS= read -r k; do s3curl DELETE "$k" -o /dev/null 2>/dev/null; done
  done
}

# with_server rgw|s3rver: point the S3_* variables at a server (see the header)
with_server() {
  local kind=$1 reuse dir name
  case $kind in
    rgw) reuse=${S3_ENV_FILE_RGW:-} ;;
    s3rver) reuse=${S3_ENV_FILE_S3RVER:-} ;;
    *) echo "with_server: rgw or s3rver, not '$kind'" >&2; return 2 ;;
  esac
  if [ -n "$reuse" ]; then
    t_load_env "$reuse" || return 1
    name=$(basename "$0" .sh | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' '-' | cut -c1-30)
    name="t-${name}-$RANDOM$RANDOM"
    s3_create_bucket "$name" || return 1
    export S3_BUCKET=$name
    return 0
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-$kind.XXXXXX")
  t_cleanup_push rm -rf "$dir"
  # quiet: the test's last line must stay its "N passed, N failed"
  t_cleanup_push t_quietly "$BUCKETFS_ROOT/tests/servers/stop-$kind.sh" "$dir/srv"
  "$BUCKETFS_ROOT/tests/servers/start-$kind.sh" "$dir/srv" >/dev/null || return 1
  t_load_env "$dir/srv/env"
}

# t_log_mark: the number of lines in $S3_LOG now (pass it to t_log_count)
t_log_mark() { if [ -f "$S3_LOG" ]; then wc -l <"$S3_LOG"; else echo 0; fi; }
# t_log_count MARK ERE: access-log lines after MARK that match ERE, e.g.
#   t_log_count "$m" "\"PUT /$S3_BUCKET/big\\.bin\\?partNumber="
t_log_count() {
  sleep "${S3_LOG_SETTLE:-0.3}" # RGW writes its log line just after the reply
  tail -n +"$(($1 + 1))" "$S3_LOG" 2>/dev/null | grep -cE -- "$2" || true
}
