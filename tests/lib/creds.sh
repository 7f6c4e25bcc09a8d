# shellcheck shell=bash
# creds.sh - helpers for the credential tests (issue 14): Ceph RGW's own STS
# (a base user allowed only to assume a role, the role allowed s3:*), mounts
# that take their credentials from anywhere but a passwd file, and the
# loopback credential service tests/tools/fake_creds.js.
# Needs tests/lib/common.sh sourced. Sourcing starts a private Ceph RGW with
# STS on (the shared test server has it off: with it, RGW answers a bad
# signature AccessDenied rather than SignatureDoesNotMatch, which other tests
# check), stopped at exit, and exports its S3_* (S3_DIR: its cluster dir, for
# radosgw-admin).

cr_dir=$(mktemp -d "${TMPDIR:-/tmp}/bucketfs-rgwsts.XXXXXX")
t_cleanup_push rm -rf "$cr_dir"
t_cleanup_push t_quietly "$BUCKETFS_ROOT/tests/servers/stop-rgw.sh" "$cr_dir/srv"
RGW_STS=1 OBJECTSTORE=memstore STORE_BYTES=$((2 << 30)) "$BUCKETFS_ROOT/tests/servers/start-rgw.sh" "$cr_dir/srv" \
  >/dev/null 2>"$cr_dir/start.err" || { tail -n 5 "$cr_dir/start.err" >&2; t_abort "the RGW with STS did not start"; }
t_load_env "$cr_dir/srv/env"

BIN=${BUCKETFS_BIN:-$BUCKETFS_ROOT/build/bucketfs}
# shellcheck source=tests/lib/mount.sh
. "$BUCKETFS_ROOT/tests/lib/mount.sh" # m_is_mounted, m_cleanup, same_in_bucket
CR_LOG=$T_TMP/bucketfs.log
# A HOME of the test's own: no ~/.aws or ~/.passwd-s3fs of the machine leaks in.
CR_HOME=$T_TMP/home
mkdir -p "$CR_HOME/.aws" "$CR_HOME/.alibabacloud"
chmod 700 "$CR_HOME"

rgw_admin() { timeout 120 radosgw-admin -c "$S3_DIR/ceph.conf" -n client.admin "$@"; }

# sts_setup: a user ($STS_USER, keys STS_BASE_KEY/STS_BASE_SECRET) that may do
# nothing but assume the role $STS_ROLE_ARN, which may do anything in S3.
# Status 1 (with a message) when the RGW has no STS.
sts_setup() {
  local tag
  tag=$(basename "$0" .sh | tr -c 'a-z0-9\n' '-')$RANDOM
  STS_USER=stsbase-$tag
  STS_BASE_KEY=BASE$RANDOM$RANDOM
  STS_BASE_SECRET=basesecret$RANDOM$RANDOM$RANDOM
  STS_ROLE=role-$tag
  rgw_admin user create --uid="$STS_USER" --display-name="$STS_USER" \
    --access-key="$STS_BASE_KEY" --secret="$STS_BASE_SECRET" >"$T_TMP/user.json" 2>&1 ||
    { echo "radosgw-admin user create failed: $(tail -n 2 "$T_TMP/user.json")" >&2; return 1; }
  rgw_admin role create --role-name="$STS_ROLE" --path=/ --assume-role-policy-doc="{\"Version\":\"2012-10-17\",\
\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam:::user/$STS_USER\"]},\
\"Action\":[\"sts:AssumeRole\"]}]}" >"$T_TMP/role.json" 2>&1 ||
    { echo "radosgw-admin role create failed: $(tail -n 2 "$T_TMP/role.json")" >&2; return 1; }
  rgw_admin role-policy put --role-name="$STS_ROLE" --policy-name=all \
    --policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}' \
    >"$T_TMP/policy.json" 2>&1 ||
    { echo "radosgw-admin role-policy put failed: $(tail -n 2 "$T_TMP/policy.json")" >&2; return 1; }
  STS_ROLE_ARN=arn:aws:iam:::role/$STS_ROLE
  t_cleanup_push sts_teardown "$STS_USER" "$STS_ROLE"
  # The RGW must serve STS (tests/servers/start-rgw.sh turns it on).
  local code
  code=$(curl -sS -o "$T_TMP/sts-probe.xml" -w '%{http_code}' --max-time 30 -X POST \
    --aws-sigv4 "aws:amz:us-east-1:sts" --user "$STS_BASE_KEY:$STS_BASE_SECRET" \
    --data "Action=AssumeRole&Version=2011-06-15&RoleArn=$STS_ROLE_ARN&RoleSessionName=probe&DurationSeconds=900" \
    "$S3_ENDPOINT/") || code=000
  [ "$code" = 200 ] || { echo "the RGW's STS answered HTTP $code: $(head -c 300 "$T_TMP/sts-probe.xml")" >&2; return 1; }
}
sts_teardown() {
  rgw_admin role-policy delete --role-name="$2" --policy-name=all >/dev/null 2>&1
  rgw_admin role delete --role-name="$2" >/dev/null 2>&1
  rgw_admin user rm --uid="$1" >/dev/null 2>&1
}

# base_key_status: what the bucket answers the base user's own key (it must be refused)
base_key_status() {
  curl -sS -o /dev/null -w '%{http_code}' --max-time 30 --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$STS_BASE_KEY:$STS_BASE_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$S3_ENDPOINT/$S3_BUCKET?list-type=2" || true
}

# cr_mount MNT OPTIONS [VAR=VALUE...]: bucketfs -f in the background with
# exactly these options (no passwd file), HOME=$CR_HOME, the metadata services
# off unless a VAR turns them on; waits for the mount (30 s). Sets CR_PID.
cr_mount() {
  local mnt=$1 opts=$2 i
  shift 2
  mkdir -p "$mnt"
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE HOME="$CR_HOME" \
    AWS_EC2_METADATA_DISABLED=true ALIBABA_CLOUD_ECS_METADATA_DISABLED=true "$@" \
    "$BIN" "$S3_BUCKET" "$mnt" -f -o "$opts" >>"$CR_LOG" 2>&1 &
  CR_PID=$!
  t_cleanup_push m_cleanup "$mnt" "$CR_PID"
  for i in $(seq 1 150); do
    m_is_mounted "$mnt" && return 0
    kill -0 "$CR_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "mount of $mnt did not appear; log:" >&2
  tail -n 5 "$CR_LOG" >&2
  return 1
}
cr_umount() { m_cleanup "$1" "$CR_PID"; }

# cr_mount_fails OPTIONS [VAR=VALUE...]: runs a mount that must fail; prints
# "rc=N" and the one-line error. Nothing may be mounted afterwards.
cr_mount_fails() {
  local opts=$1 out rc
  shift
  mkdir -p "$T_TMP/failmnt"
  out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE HOME="$CR_HOME" \
    AWS_EC2_METADATA_DISABLED=true ALIBABA_CLOUD_ECS_METADATA_DISABLED=true "$@" \
    timeout 120 "$BIN" "$S3_BUCKET" "$T_TMP/failmnt" -f -o "$opts" 2>&1)
  rc=$?
  if m_is_mounted "$T_TMP/failmnt"; then
    fusermount3 -u "$T_TMP/failmnt"
    echo "rc=$rc MOUNTED $out"
    return
  fi
  echo "rc=$rc $out"
}

# role_get KEY: GET KEY into $T_TMP/body with temporary credentials curl gets
# from the RGW's STS itself (objects written by a role session are the
# role's: the bucket owner's key may not read them); prints the HTTP status
role_get() {
  local xml ak sk tk
  xml=$(curl -sS --max-time 30 -X POST --aws-sigv4 "aws:amz:us-east-1:sts" \
    --user "$STS_BASE_KEY:$STS_BASE_SECRET" \
    --data "Action=AssumeRole&Version=2011-06-15&RoleArn=$STS_ROLE_ARN&RoleSessionName=check&DurationSeconds=900" \
    "$S3_ENDPOINT/")
  ak=$(sed -n 's:.*<AccessKeyId>\([^<]*\)</AccessKeyId>.*:\1:p' <<<"$xml")
  sk=$(sed -n 's:.*<SecretAccessKey>\([^<]*\)</SecretAccessKey>.*:\1:p' <<<"$xml")
  tk=$(sed -n 's:.*<SessionToken>\([^<]*\)</SessionToken>.*:\1:p' <<<"$xml")
  curl -sS --max-time 120 -o "$T_TMP/body" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$ak:$sk" -H "x-amz-security-token: $tk" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$S3_ENDPOINT/$S3_BUCKET/$(s3_encode "$1")" || true
}

# in_bucket NAME KEY LOCAL: the object KEY (read with temporary credentials
# of the role, see role_get) equals LOCAL
in_bucket() {
  local code
  rm -f "$T_TMP/body"
  code=$(role_get "$2")
  if [ "$code" != 200 ]; then
    t_fail "$1" "GET $2: HTTP $code"
  elif cmp -s "$3" "$T_TMP/body"; then
    t_ok "$1"
  else
    t_fail "$1" "bucket bytes differ"
  fi
}

# t_contains NAME TEXT NEEDLE: TEXT contains NEEDLE (fixed string)
t_contains() {
  if [[ $2 == *"$3"* ]]; then t_ok "$1"; else t_fail "$1" "'$3' not in: $2"; fi
}

# start_fake_creds [fake_creds.js flags]: sets FC (URL), FC_LOG; stopped at exit
start_fake_creds() {
  local i
  FC_LOG=$T_TMP/fake_creds.log
  rm -f "$T_TMP/fc.port"
  node "$BUCKETFS_ROOT/tests/tools/fake_creds.js" --mint-endpoint "$S3_ENDPOINT" --mint-key "$STS_BASE_KEY" \
    --mint-secret "$STS_BASE_SECRET" --role "$STS_ROLE_ARN" --port-file "$T_TMP/fc.port" --log "$FC_LOG" "$@" \
    </dev/null >>"$T_TMP/fake_creds.stderr" 2>&1 &
  local pid=$!
  t_cleanup_push kill -TERM "$pid"
  for i in $(seq 1 100); do
    [ -s "$T_TMP/fc.port" ] && break
    sleep 0.1
  done
  [ -s "$T_TMP/fc.port" ] || return 1
  FC=http://127.0.0.1:$(cat "$T_TMP/fc.port")
}
fc_mode() { curl -sS -X POST "$FC/__mode?m=$1" >/dev/null; }
