#!/usr/bin/env bash
# start-rgw.sh - a throwaway one-node Ceph cluster (1 mon, 1 OSD, no mgr) plus
# radosgw's beast frontend, all on 127.0.0.1 on free ports, as the S3 test peer.
# Tested with Debian 12's ceph 16.2.15 (ceph-mon ceph-osd radosgw ceph-common).
#
# Usage: start-rgw.sh DIR
#   DIR must be missing, empty, or a stopped cluster dir left by this script
#   (it is then wiped). Progress goes to stderr; on success the endpoint URL is
#   printed on stdout and DIR/env holds, one KEY=VALUE a line (no quoting):
#     S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_REGION S3_SERVER=rgw
#     S3_SSE_KMS_KEY_ID (a key of RGW's "testing" KMS: SSE-KMS and SSE-C work
#                        over plain HTTP)
#     S3_LOG (beast access log: one line per request, e.g.
#             "PUT /bucket/key?partNumber=3&uploadId=... HTTP/1.1" 200 ...)
#     S3_DIR (this DIR, for stop-rgw.sh)
# Env overrides (ports are picked free when unset):
#   RGW_PORT MON_PORT_V1 MON_PORT_V2 OSD_PORT_MIN (OSD_PORT_MAX = MIN+39)
#   ACCESS_KEY (testkey) SECRET_KEY (testsecret) RGW_UID (testuser)
#   BUCKET (bucketfs-test; empty = create none)
#   OBJECTSTORE (memstore|bluestore) STORE_BYTES (4 GiB: memstore capacity / bluestore file)
#   READY_TIMEOUT (120 s)
#   RGW_STS (0; 1 turns on RGW's STS: AssumeRole, sessions from 60 s)
# Stop with: stop-rgw.sh DIR [--purge]  (kills only the PIDs recorded in DIR/run/*.pid)
# On any failure it prints the logs' last lines and stops what it started.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/ports.sh
. "$HERE/../lib/ports.sh"

DIR=${1:?usage: start-rgw.sh DIR}
ACCESS_KEY=${ACCESS_KEY:-testkey}
SECRET_KEY=${SECRET_KEY:-testsecret}
RGW_UID=${RGW_UID:-testuser}
BUCKET=${BUCKET-bucketfs-test}
OBJECTSTORE=${OBJECTSTORE:-memstore}
STORE_BYTES=${STORE_BYTES:-4294967296}
READY_TIMEOUT=${READY_TIMEOUT:-120}
REGION=us-east-1
IP=127.0.0.1
# the testing KMS's one key (id=base64 of 32 bytes); tests mount with sse=aws:kms:$SSE_KMS_KEY_ID
SSE_KMS_KEY_ID=bucketfs-test-key
SSE_KMS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
STOP_SCRIPT=$HERE/stop-rgw.sh
# glibc malloc: hand big (4 MiB message) buffers back to the OS at once; keeps radosgw RSS ~50 MiB
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072}

T0=$EPOCHREALTIME
log() { printf '[start-rgw %6.2fs] %s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*" >&2; }
die() {
  echo "start-rgw: $*" >&2
  exit 1
}

case $OBJECTSTORE in memstore | bluestore) ;; *) die "OBJECTSTORE must be memstore or bluestore" ;; esac
for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool uuidgen curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run scripts/deps.sh (needs ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl)"
done
[[ $DIR != *[[:space:]]* ]] || die "DIR must not contain whitespace: '$DIR'"
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  [ -f "$DIR/ceph.conf" ] || die "$DIR exists, is not empty and is not a cluster dir; refusing to wipe it"
  if ls "$DIR"/run/*.pid >/dev/null 2>&1; then
    die "$DIR/run has pid files; run stop-rgw.sh $DIR first (or use another dir)"
  fi
fi

# --- ports: given ones must be free; missing ones are picked free and distinct ---
taken=()
pick() { # VAR: keep $VAR if set (must be free), else pick a free port
  local var=$1 val=${!1:-}
  if [ -n "$val" ]; then
    port_in_use "$val" && die "port $IP:$val ($var) is already in use"
  else
    val=$(free_port "${taken[@]}") || die "no free port for $var"
  fi
  printf -v "$var" '%s' "$val"
  taken+=("$val")
}
pick RGW_PORT
pick MON_PORT_V2
pick MON_PORT_V1
if [ -z "${OSD_PORT_MIN:-}" ]; then
  OSD_PORT_MIN=$(free_port_range 40 "${taken[@]}") || die "no 40 free ports for the OSD"
fi
OSD_PORT_MAX=${OSD_PORT_MAX:-$((OSD_PORT_MIN + 39))}
log "ports: rgw $RGW_PORT, mon v2 $MON_PORT_V2 v1 $MON_PORT_V1, osd $OSD_PORT_MIN-$OSD_PORT_MAX"

rm -rf "$DIR"
mkdir -p "$DIR"/{data,log,run,crash,tmp}
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/ceph.conf
KEYRING=$DIR/keyring
FSID=$(uuidgen)
OSD_UUID=$(uuidgen)
MON_ADDRS="[v2:$IP:$MON_PORT_V2,v1:$IP:$MON_PORT_V1]"
ENDPOINT="http://$IP:$RGW_PORT"

# from here on, any failure stops what was already started (by recorded PID)
OK=0
cleanup() {
  [ "$OK" = 1 ] && return 0
  echo "start-rgw: FAILED; last log lines:" >&2
  tail -n 8 "$DIR"/log/*.log "$DIR"/log/*.mkfs "$DIR"/log/*.stdout "$DIR"/log/*.stderr 2>/dev/null | sed 's/^/    /' >&2 || true
  "$STOP_SCRIPT" "$DIR" >&2 || true
  rm -f "$DIR/env"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = $MON_ADDRS
public addr = $IP
cluster addr = $IP
ms bind ipv6 = false
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
keyring = $KEYRING
run dir = $DIR/run
crash dir = $DIR/crash
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.daemon-pid
log file = $DIR/log/\$name.log
log to stderr = false
log to syslog = false
mon cluster log file = $DIR/log/cluster.log
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
# map changes every 0.1 s instead of 1 s: pool creation and OSD boot take ~2 s instead of ~13 s
paxos propose interval = 0.1
mgr initial modules = iostat

[mon]
mon data = $DIR/data/\$name

[osd]
osd data = $DIR/data/\$name
osd objectstore = $OBJECTSTORE
memstore device bytes = $STORE_BYTES
bluestore block create = true
bluestore block size = $STORE_BYTES
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 1

[client.rgw.a]
rgw frontends = beast endpoint=$IP:$RGW_PORT
rgw data = $DIR/data/\$name
rgw thread pool size = 64
# SSE for the tests: SSE-KMS with the built-in "testing" KMS (keys below) and
# SSE-C, both over plain HTTP on loopback (rgw_crypt_require_ssl=false)
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = $SSE_KMS_KEY_ID=$SSE_KMS_KEY
CONF
# STS (AssumeRole, temporary credentials) for the credential tests, on
# request only: with it RGW answers a bad signature AccessDenied instead of
# SignatureDoesNotMatch. Sessions as short as 60 s, so that a test sees a
# refresh during an upload.
if [ "${RGW_STS:-0}" = 1 ]; then
  cat >>"$CONF" <<CONF
rgw s3 auth use sts = true
rgw sts key = bucketfsstskey16
rgw sts min session duration = 60
CONF
fi

# --- keys: one keyring with every entity; ceph-mon --mkfs imports them all ---
ceph-authtool --create-keyring "$KEYRING" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$KEYRING" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$KEYRING" --gen-key -n osd.0 \
  --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool "$KEYRING" --gen-key -n client.rgw.a \
  --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null

# --- monitor ---
monmaptool --create --clobber --fsid "$FSID" --enable-all-features \
  --addv a "$MON_ADDRS" "$DIR/tmp/monmap" >/dev/null
ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/tmp/monmap" --keyring "$KEYRING" \
  >"$DIR/log/mon.a.mkfs" 2>&1 || die "ceph-mon --mkfs failed; see $DIR/log/mon.a.mkfs"
log "mon mkfs done"

# run a daemon in the foreground (-f) in its own session; we record its PID ourselves
start_daemon() { # name binary args...
  local name=$1
  shift
  setsid "$@" -f </dev/null >>"$DIR/log/$name.stdout" 2>&1 &
  echo $! >"$DIR/run/$name.pid"
  log "started $name pid $!"
}
alive() { kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null || die "$1 died; see $DIR/log/"; }
C() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }

start_daemon mon.a ceph-mon -c "$CONF" -i a
deadline=$((SECONDS + READY_TIMEOUT))
until C mon stat >/dev/null 2>&1; do
  alive mon.a
  [ $SECONDS -lt $deadline ] || die "mon not up after ${READY_TIMEOUT}s"
  sleep 0.2
done
log "mon up"

# --- OSD ---
OSD_ID=$(C osd new "$OSD_UUID" 0) || die "ceph osd new failed"
[ "$OSD_ID" = 0 ] || die "unexpected osd id '$OSD_ID'"
mkdir -p "$DIR/data/osd.0"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd.0.mkfs" 2>&1 ||
  die "ceph-osd --mkfs failed; see $DIR/log/osd.0.mkfs"
log "osd mkfs done ($OBJECTSTORE)"
start_daemon osd.0 ceph-osd -c "$CONF" -i 0
until C osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; do
  alive osd.0
  [ $SECONDS -lt $deadline ] || die "osd not up after ${READY_TIMEOUT}s"
  sleep 0.2
done
log "osd up"

# --- S3 user (radosgw-admin also creates the default zonegroup/zone and the rgw pools) ---
timeout "$READY_TIMEOUT" radosgw-admin -c "$CONF" -n client.admin user create \
  --uid="$RGW_UID" --display-name="$RGW_UID" \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" \
  >"$DIR/log/user-create.json" 2>"$DIR/log/radosgw-admin.stderr" ||
  die "radosgw-admin user create failed; see $DIR/log/radosgw-admin.stderr"
log "user $RGW_UID created"

# --- radosgw ---
start_daemon rgw.a radosgw -c "$CONF" -n client.rgw.a
until curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; do
  alive rgw.a
  [ $SECONDS -lt $deadline ] || die "radosgw not answering on $ENDPOINT after ${READY_TIMEOUT}s"
  sleep 0.1
done
log "RGW answering on $ENDPOINT"

if [ -n "$BUCKET" ]; then
  code=$(curl -sS -o "$DIR/tmp/create-bucket.xml" -w '%{http_code}' --max-time 30 -X PUT \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$ENDPOINT/$BUCKET") || code=000
  [ "$code" = 200 ] || die "creating bucket '$BUCKET' answered HTTP $code: $(cat "$DIR/tmp/create-bucket.xml" 2>/dev/null)"
  log "bucket $BUCKET created"
fi

cat >"$DIR/env.tmp" <<ENV
S3_ENDPOINT=$ENDPOINT
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_BUCKET=$BUCKET
S3_REGION=$REGION
S3_SERVER=rgw
S3_SSE_KMS_KEY_ID=$SSE_KMS_KEY_ID
S3_LOG=$DIR/log/client.rgw.a.log
S3_DIR=$DIR
ENV
mv "$DIR/env.tmp" "$DIR/env"
OK=1
log "ready; env in $DIR/env"
echo "$ENDPOINT"
