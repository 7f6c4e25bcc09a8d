#!/usr/bin/env bash
# deps.sh - install what only the benchmark needs, from Debian: s3fs (1.90 on
# bookworm), rclone (1.60), gnuplot-nox (the chart; no X or Qt pulled in).
# Only the missing ones; idempotent. As root, or through sudo -n.
# The build and server dependencies come from scripts/deps.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
want=()
command -v s3fs >/dev/null 2>&1 || want+=(s3fs)
command -v rclone >/dev/null 2>&1 || want+=(rclone)
command -v gnuplot >/dev/null 2>&1 || want+=(gnuplot-nox)
[ ${#want[@]} -gt 0 ] || exit 0
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "bench deps: missing ${want[*]}; as root run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${want[*]}" >&2
  exit 1
fi
echo "bench deps: installing ${want[*]}" >&2
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
"${APT[@]}" update
"${APT[@]}" install -y --no-install-recommends "${want[@]}"
