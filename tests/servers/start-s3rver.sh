#!/usr/bin/env bash
# start-s3rver.sh - run the pinned s3rver (tests/node_modules, see tests/package.json)
# on 127.0.0.1 as the light S3 test peer. s3rver has no ListParts, no
# AbortMultipartUpload and no UploadPartCopy, and does not verify V4 signatures.
#
# Usage: start-s3rver.sh DIR
#   DIR must be missing, empty, or a stopped dir left by this script (it is then
#   wiped). Progress goes to stderr; on success the endpoint URL is printed on
#   stdout and DIR/env holds, one KEY=VALUE a line (no quoting):
#     S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_REGION S3_SERVER=s3rver
#     S3_LOG (access log, one line per request:
#             ... "PUT /bucket/key?partNumber=3&uploadId=... HTTP/1.1" 200 latency=...)
#     S3_DIR (this DIR, for stop-s3rver.sh)
# Env: S3RVER_PORT (default 0: the kernel picks a free port, so no race)
#      BUCKET (bucketfs-test; empty = create none)  READY_TIMEOUT (30 s)
#      S3RVER_MODULES (a node_modules dir holding s3rver; default tests/node_modules,
#                      which scripts/deps.sh patches: see store_s3rver_published.sh)
# Credentials are s3rver's fixed S3RVER / S3RVER.
# Stop with: stop-s3rver.sh DIR [--purge]  (kills only the PID recorded in DIR/run/s3rver.pid)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/ports.sh
. "$HERE/../lib/ports.sh"

DIR=${1:?usage: start-s3rver.sh DIR}
PORT=${S3RVER_PORT:-0}
BUCKET=${BUCKET-bucketfs-test}
READY_TIMEOUT=${READY_TIMEOUT:-30}
REGION=us-east-1
ACCESS_KEY=S3RVER
SECRET_KEY=S3RVER
STOP_SCRIPT=$HERE/stop-s3rver.sh
MODULES=${S3RVER_MODULES:-$HERE/../node_modules}
MODULE=$MODULES/s3rver

die() {
  echo "start-s3rver: $*" >&2
  exit 1
}
command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
command -v curl >/dev/null 2>&1 || die "curl not found; run scripts/deps.sh"
[ -f "$MODULE/package.json" ] || die "$MODULE missing; run scripts/deps.sh (npm ci in tests/)"
[[ $DIR != *[[:space:]]* ]] || die "DIR must not contain whitespace: '$DIR'"
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  if [ ! -d "$DIR/run" ] || [ ! -d "$DIR/data" ]; then
    die "$DIR exists, is not empty and is not an s3rver dir; refusing to wipe it"
  fi
  [ -f "$DIR/run/s3rver.pid" ] && die "$DIR/run/s3rver.pid exists; run stop-s3rver.sh $DIR first"
fi
if [ "$PORT" != 0 ] && port_in_use "$PORT"; then die "port 127.0.0.1:$PORT is already in use"; fi

rm -rf "$DIR"
mkdir -p "$DIR"/{data,log,run}
DIR=$(cd "$DIR" && pwd)

OK=0
cleanup() {
  [ "$OK" = 1 ] && return 0
  echo "start-s3rver: FAILED; last log lines:" >&2
  tail -n 15 "$DIR/log/s3rver.stdout" 2>/dev/null | sed 's/^/    /' >&2 || true
  "$STOP_SCRIPT" "$DIR" >&2 || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# s3rver makes continuation tokens with the "des" cipher, which Node 17+
# (OpenSSL 3) only offers through the legacy provider.
S3RVER_MODULES=$MODULES NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" setsid node "$HERE/s3rver-run.js" "$DIR/data" "$PORT" "$DIR/log/access.log" "$DIR/run/port" "$BUCKET" \
  </dev/null >"$DIR/log/s3rver.stdout" 2>&1 &
echo $! >"$DIR/run/s3rver.pid"
PID=$!

deadline=$((SECONDS + READY_TIMEOUT))
until [ -s "$DIR/run/port" ]; do
  kill -0 "$PID" 2>/dev/null || die "s3rver (pid $PID) exited; see $DIR/log/s3rver.stdout"
  [ $SECONDS -lt $deadline ] || die "s3rver did not listen within ${READY_TIMEOUT}s"
  sleep 0.1
done
PORT=$(cat "$DIR/run/port")
ENDPOINT="http://127.0.0.1:$PORT"
S=(--aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
until curl -s -o /dev/null --max-time 2 "${S[@]}" "$ENDPOINT/"; do
  kill -0 "$PID" 2>/dev/null || die "s3rver (pid $PID) exited; see $DIR/log/s3rver.stdout"
  [ $SECONDS -lt $deadline ] || die "s3rver not answering on $ENDPOINT within ${READY_TIMEOUT}s"
  sleep 0.1
done
if [ -n "$BUCKET" ]; then
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -I "${S[@]}" "$ENDPOINT/$BUCKET") || code=000
  [ "$code" = 200 ] || die "bucket '$BUCKET' not there (HEAD answered HTTP $code)"
fi

cat >"$DIR/env.tmp" <<ENV
S3_ENDPOINT=$ENDPOINT
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_BUCKET=$BUCKET
S3_REGION=$REGION
S3_SERVER=s3rver
S3_LOG=$DIR/log/access.log
S3_DIR=$DIR
ENV
mv "$DIR/env.tmp" "$DIR/env"
OK=1
echo "start-s3rver: s3rver (pid $PID) answering on $ENDPOINT; env in $DIR/env" >&2
echo "$ENDPOINT"
