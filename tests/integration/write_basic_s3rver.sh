#!/usr/bin/env bash
# write_basic_s3rver.sh - write_basic.sh's write cases over s3rver (signature
# V2; s3rver has no ListParts/ListMultipartUploads/abort, so the checks that
# need them run on RGW only).
WRITE_SERVER=s3rver exec bash "$(dirname "$0")/write_basic.sh" "$@"
