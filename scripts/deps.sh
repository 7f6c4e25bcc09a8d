#!/usr/bin/env bash
# deps.sh - install what building and testing bucketfs needs on Debian 12:
# the Debian packages below (only the missing ones) and the pinned npm test
# server (tests/package-lock.json -> tests/node_modules). Idempotent; when all
# is there it only runs dpkg-query and a timestamp check (well under a second).
# Runs as root, or through sudo; otherwise prints the command to run.
# Env: DEPS_NO_APT=1 skips the Debian part, DEPS_NO_NPM=1 the npm part.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  g++ make pkg-config                                     # build
  libfuse3-dev libcurl4-openssl-dev libssl-dev libpugixml-dev liblmdb-dev libcmocka-dev
  fuse3                                                   # fusermount3, for mounting
  clang-format                                            # make format / format-check
  curl ca-certificates                                    # independent S3 client in tests
  ceph-mon ceph-osd radosgw ceph-common uuid-runtime      # the RGW test server
  util-linux procps iproute2 coreutils                    # setsid, ps/pgrep, ss, timeout
  s3fs                                                    # the s3fs compatibility round trip
  groff-base man-db                                       # man page lint (groff -ww)
)
# node and npm (for s3rver) may come from elsewhere (nodesource, nvm): keep them
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

say() { echo "deps: $*" >&2; }

if [ "${DEPS_NO_APT:-0}" != 1 ]; then
  # one dpkg-query for all: a package it does not know is simply absent from its output
  declare -A have=()
  while read -r name st; do
    [[ $st == ii* ]] && have[$name]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null || true)
  missing=()
  for p in "${PKGS[@]}"; do
    [ -n "${have[$p]:-}" ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      SUDO=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    elif command -v sudo >/dev/null 2>&1 && [ -t 0 ]; then
      SUDO=(sudo)
    else
      say "missing Debian packages: ${missing[*]}"
      say "install them as root with:"
      say "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
      exit 1
    fi
    say "installing: ${missing[*]}"
    # wait for a dpkg/apt run already in progress instead of failing on its lock
    APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
    "${APT[@]}" update
    "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
  fi
  [ -e /dev/fuse ] || say "warning: /dev/fuse is missing: mounts will fail (containers need --device /dev/fuse --cap-add SYS_ADMIN)"
fi

if [ "${DEPS_NO_NPM:-0}" != 1 ]; then
  stamp=$ROOT/tests/node_modules/.package-lock.json # npm writes it on every install
  if [ ! -f "$ROOT/tests/node_modules/s3rver/package.json" ] || [ ! -f "$stamp" ] ||
    [ "$ROOT/tests/package-lock.json" -nt "$stamp" ]; then
    command -v npm >/dev/null 2>&1 || { say "npm not found"; exit 1; }
    say "npm ci in tests/ (s3rver, pinned by tests/package-lock.json)"
    (cd "$ROOT/tests" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # s3rver 3.7.1 leaves the Date line empty in its V2 string-to-sign for
  # header auth (parseHeader's timestamp is dropped), so no correct V2 client
  # can pass. Feed it back in, as AWS specifies; idempotent.
  auth=$ROOT/tests/node_modules/s3rver/lib/middleware/authentication.js
  if [ -f "$auth" ] && ! grep -q 'bucketfs: V2 signs the Date' "$auth"; then
    sed -i '0,/^      ({ signature, signatureProvided } = result);$/s//      ({ signature, signatureProvided } = result);\n      canonicalRequest.timestamp = result.timestamp; \/\/ bucketfs: V2 signs the Date/' "$auth"
    grep -q 'bucketfs: V2 signs the Date' "$auth" || { say "could not patch $auth"; exit 1; }
    say "patched s3rver's V2 signature check (Date line)"
  fi
fi
