#!/usr/bin/env bash
# mount_read_s3rver.sh - mount_read.sh's read and listing cases over s3rver
# (signature V2: s3rver verifies only V2 signatures).
MOUNT_SERVER=s3rver exec bash "$(dirname "$0")/mount_read.sh" "$@"
