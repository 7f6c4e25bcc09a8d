#!/usr/bin/env bash
# demo.sh BUILD - start a local S3 server with a bucket, mount it with bucketfs,
# copy a file in, show `bucketfs status`, and leave the mount up for you to try
# (`make demo`). Ceph RGW by default (verifies SigV4, has ListParts: the
# production-grade peer); DEMO_SERVER=s3rver for the light one. DEMO_KEEP=0
# unmounts and stops everything at the end instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
SERVER=${DEMO_SERVER:-rgw}
case $SERVER in rgw | s3rver) ;; *) echo "demo: DEMO_SERVER must be rgw or s3rver" >&2; exit 2 ;; esac
BIN=$ROOT/$BUILD/bucketfs
[[ $BUILD == /* ]] && BIN=$BUILD/bucketfs

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-demo.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ "$rc" = 0 ] && [ "${DEMO_KEEP:-1}" = 1 ]; then
    cat <<EOF

The bucket '$S3_BUCKET' of the local $SERVER ($S3_ENDPOINT) is mounted at
    $WORK/mnt
Try:
    ls -l $WORK/mnt
    cp /some/big/file $WORK/mnt/ && $BIN status $WORK/mnt --watch
    tail $WORK/bucketfs.log
Unmount and stop the server with:
    fusermount3 -u $WORK/mnt; $ROOT/tests/servers/stop-$SERVER.sh $WORK/srv --purge; rm -rf $WORK
EOF
    exit 0
  fi
  if grep -qs " $WORK/mnt " /proc/mounts; then fusermount3 -u "$WORK/mnt" 2>/dev/null || fusermount3 -uz "$WORK/mnt"; fi
  "$ROOT/tests/servers/stop-$SERVER.sh" "$WORK/srv" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

echo "demo: starting $SERVER in $WORK/srv ..."
BUCKET=${DEMO_BUCKET:-demo-bucket} "$ROOT/tests/servers/start-$SERVER.sh" "$WORK/srv" >/dev/null
# shellcheck disable=SC1091
. "$WORK/srv/env"
echo "demo: $S3_SERVER answering on $S3_ENDPOINT, bucket '$S3_BUCKET' (access key $S3_ACCESS_KEY)"

s3() { # METHOD PATH [curl args...]: a signed request (curl --aws-sigv4)
  local m=$1 p=$2
  shift 2
  curl -sS --fail-with-body -X "$m" --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$@" "$S3_ENDPOINT/$S3_BUCKET$p"
}

[ -x "$BIN" ] || { echo "demo: no bucketfs binary at $BIN (run make)" >&2; exit 1; }
echo "demo: $("$BIN" --version | head -n 1)"

printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$WORK/passwd"
chmod 600 "$WORK/passwd"
SIGV=4
[ "$S3_SERVER" = s3rver ] && SIGV=2  # s3rver verifies V2 signatures only
mkdir -p "$WORK/mnt"
echo "demo: mounting $S3_BUCKET at $WORK/mnt"
"$BIN" "$S3_BUCKET" "$WORK/mnt" -o "endpoint=$S3_ENDPOINT,sigv=$SIGV,passwd_file=$WORK/passwd,cache_dir=$WORK/cache" \
  --log-file "$WORK/bucketfs.log"

echo "demo: cp of a 64 MiB file into the mount (close returns once it is staged and checkpointed)"
head -c 64M /dev/urandom >"$WORK/sample.bin"
time cp "$WORK/sample.bin" "$WORK/mnt/sample.bin"
echo "demo: bucketfs status while it uploads:"
"$BIN" status "$WORK/mnt" || true
"$BIN" status "$WORK/mnt" --wait --timeout 120 >/dev/null
echo "demo: uploaded; ls -l through the mount:"
ls -l "$WORK/mnt" | sed 's/^/  /'
echo "demo: checking the object with an independent client (curl --aws-sigv4):"
s3 GET /sample.bin -o "$WORK/back.bin"
cmp "$WORK/sample.bin" "$WORK/back.bin" && echo "  sample.bin in the bucket is byte-identical"
rm -f "$WORK/sample.bin" "$WORK/back.bin"
