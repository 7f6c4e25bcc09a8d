#!/usr/bin/env bash
# crash_campaign.sh - the randomized crash campaign (tests/crash/campaign.sh)
# inside `make test`: 30 trials over Ceph RGW, each one test; zero lost,
# corrupted, stale or extra files. About three trials in four kill the daemon
# inside an operation (half of them inside close), the rest from outside.
# `make soak` runs the same campaign with many more trials on both servers.
# Env: CRASH_TRIALS (30), SEED (base seed; random by default, printed).
set -uo pipefail
TRIALS=${CRASH_TRIALS:-30} SERVER=rgw exec bash "$(dirname "$0")/../crash/campaign.sh"
