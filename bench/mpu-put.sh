#!/usr/bin/env bash
# mpu-put.sh - the plain parallel multipart upload a shell user would write:
# create the upload, PUT the parts in parallel (xargs -P, each part read
# straight from its range of the file by dd, no split copies), complete.
# The "curl parallel" contender of the large-write workload.
#
# Usage: mpu-put.sh FILE KEY [PART_MIB] [JOBS]   (defaults 64 and 4)
# Env: the S3_* variables of a server env file (see tests/lib/common.sh).
# Status 0 when CompleteMultipartUpload answered 200.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILE=${1:?usage: mpu-put.sh FILE KEY [PART_MIB] [JOBS]}
KEY=${2:?usage: mpu-put.sh FILE KEY [PART_MIB] [JOBS]}
PART_MIB=${3:-64}
JOBS=${4:-4}

if [ "${MPU_CHILD:-}" != 1 ]; then
  # shellcheck source=tests/lib/common.sh
  . "$ROOT/tests/lib/common.sh"
  size=$(stat -c %s "$FILE")
  part=$((PART_MIB * 1048576))
  nparts=$(((size + part - 1) / part))
  upload_id=$(S3_QUERY=$(s3_query uploads) s3curl POST "$KEY" | grep -o '<UploadId>[^<]*' | cut -d'>' -f2)
  [ -n "$upload_id" ] || { echo "mpu-put: CreateMultipartUpload failed" >&2; exit 1; }
  export MPU_CHILD=1 MPU_UPLOAD_ID=$upload_id MPU_DIR=$T_TMP MPU_PART=$part
  if ! seq 1 "$nparts" | xargs -P "$JOBS" -I{} "$0" "$FILE" "$KEY" "$PART_MIB" "$JOBS" {}; then
    S3_QUERY=$(s3_query "uploadId=$upload_id") s3curl DELETE "$KEY" -o /dev/null || true
    echo "mpu-put: a part failed; upload aborted" >&2
    exit 1
  fi
  {
    echo '<CompleteMultipartUpload>'
    for ((n = 1; n <= nparts; n++)); do
      printf '<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>\n' "$n" "$(cat "$T_TMP/etag.$n")"
    done
    echo '</CompleteMultipartUpload>'
  } >"$T_TMP/complete.xml"
  code=$(S3_QUERY=$(s3_query "uploadId=$upload_id") s3curl POST "$KEY" --data-binary @"$T_TMP/complete.xml" \
    -o "$T_TMP/complete.out" -w '%{http_code}') || code=000
  if [ "$code" != 200 ] || grep -q '<Error>' "$T_TMP/complete.out"; then
    echo "mpu-put: CompleteMultipartUpload answered $code: $(head -c 300 "$T_TMP/complete.out")" >&2
    exit 1
  fi
  exit 0
fi

# child: upload part $5 (xargs runs one of these per part). --data-binary @-
# holds the part in curl's memory: PART_MIB x JOBS at most.
# shellcheck source=tests/lib/common.sh
. "$ROOT/tests/lib/common.sh"
n=$5
count=$((MPU_PART / 1048576))
code=$(dd if="$FILE" bs=1M skip=$(((n - 1) * count)) count="$count" status=none |
  S3_QUERY=$(s3_query "partNumber=$n" "uploadId=$MPU_UPLOAD_ID") s3curl PUT "$KEY" --data-binary @- \
    -D "$MPU_DIR/hdr.$n" -o /dev/null -w '%{http_code}') || code=000
[ "$code" = 200 ] || { echo "mpu-put: part $n answered $code" >&2; exit 255; }
tr -d '\r' <"$MPU_DIR/hdr.$n" | awk 'tolower($1) == "etag:" { print $2 }' >"$MPU_DIR/etag.$n"
[ -s "$MPU_DIR/etag.$n" ] || { echo "mpu-put: part $n: no ETag" >&2; exit 255; }
