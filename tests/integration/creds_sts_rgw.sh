#!/usr/bin/env bash
# creds_sts_rgw.sh - (issue 14) a mount through an AWS profile whose role_arn
# is assumed at Ceph RGW's own STS, with temporary credentials only:
#  - the profile's base user may only assume the role (its own key is refused
#    by the bucket), so every request that works was signed with the role's
#    temporary credentials and their session token;
#  - the credentials live 60 s; a part upload cut off by a network outage
#    longer than that is retried afterwards signed with refreshed credentials
#    (the old ones have expired) and the object arrives whole;
#  - an upload left pending at unmount resumes at the next mount;
#  - the log names the source, never a secret; status needs no --cache-dir.
# The bucket is checked with curl, with temporary credentials it gets itself.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
. "$BUCKETFS_ROOT/tests/lib/creds.sh" # a private RGW with STS
. "$BUCKETFS_ROOT/tests/lib/fault.sh"
sts_setup || t_abort "no STS at the RGW"

t_check "the base user's own key is refused by the bucket" "$(base_key_status)" 403

# S3 goes through the fault proxy (to cut it); STS is the RGW directly, from
# the profile's endpoint_url.
start_proxy --seed 7 || t_abort "fault proxy did not start"
cat >"$CR_HOME/.aws/config" <<EOF
# a profile as the AWS CLI writes it; comments and spaces are allowed
[profile rgwrole]
role_arn = $STS_ROLE_ARN
source_profile = base   ; the keys that may assume it
role_session_name = bucketfs-it
duration_seconds = 60
endpoint_url = $S3_ENDPOINT
region = us-east-1
EOF
cat >"$CR_HOME/.aws/credentials" <<EOF
[base]
aws_access_key_id = $STS_BASE_KEY
aws_secret_access_key = $STS_BASE_SECRET
EOF
chmod 600 "$CR_HOME/.aws/credentials"

MNT=$T_TMP/mnt
OPTS="url=$PX,profile=rgwrole,cache_dir=$T_TMP/cache,part_size=5,upload_concurrency=1,loglevel=debug"
cr_mount "$MNT" "$OPTS" || t_abort "mount through the role failed"
t_contains "the log names the source" "$(grep 'credentials: ' "$CR_LOG" | head -n 1)" \
  "credentials: profile 'rgwrole': assume role $STS_ROLE_ARN at $S3_ENDPOINT with profile 'base' keys; temporary, valid until"
if grep -qF -- "$STS_BASE_SECRET" "$CR_LOG"; then t_fail "no secret in the log" "the base secret is there"; else
  t_ok "no secret in the log"
fi
t_check "status finds the mount without --cache-dir" \
  "$("$BIN" status "$MNT" --json | grep -o '"running":true')" '"running":true'

# A small file, then a big one whose upload a network cut interrupts for
# longer than the credentials live.
echo "temporary credentials only" >"$T_TMP/small"
cp "$T_TMP/small" "$MNT/small" || t_fail "write small" "cp failed"
"$BIN" status "$MNT" --wait --timeout 120 >/dev/null
in_bucket "small file in the bucket" small "$T_TMP/small"

head -c $((40 << 20)) /dev/urandom >"$T_TMP/big"
issued_at=$(grep -c 'credentials refreshed' "$CR_LOG")
cp "$T_TMP/big" "$MNT/big" || t_fail "write big" "cp failed"
for _ in $(seq 1 600); do
  pd=$("$BIN" status "$MNT" --json | grep -o '"key":"big"[^}]*' | grep -o '"parts_done":[0-9]*' | cut -d: -f2)
  [ "${pd:-0}" -ge 2 ] && break
  sleep 0.1
done
t_check "two parts went up before the cut" "$([ "${pd:-0}" -ge 2 ] && echo yes)" yes
cut_started=$(date +%s)
curl -sS -X POST "$PX/__fault/cut?seconds=70" >/dev/null
# During the outage the credentials are refreshed (STS is reachable) and
# the ones the first parts were signed with expire.
"$BIN" status "$MNT" --wait --timeout 400 >/dev/null
t_check "the upload finished" "$?" 0
done_at=$(date +%s)
t_check "it took longer than the credentials live" "$([ $((done_at - cut_started)) -ge 65 ] && echo yes)" yes
refreshed=$(($(grep -c 'credentials refreshed' "$CR_LOG") - issued_at))
t_check "credentials were refreshed during the upload" "$([ "$refreshed" -ge 1 ] && echo yes)" yes
in_bucket "big file whole in the bucket" big "$T_TMP/big"
t_check "no failed upload" "$("$BIN" status "$MNT" --json | grep -o '"failed":\[\]')" '"failed":[]'

# Pending at unmount (every upload request refused meanwhile), resumed at
# the next mount with fresh credentials.
head -c $((30 << 20)) /dev/urandom >"$T_TMP/later"
curl -sS -X POST "$PX/__fault/config" -d '{"p503": 100, "match": "^(PUT .*partNumber=|POST .*uploads)"}' >/dev/null
cp "$T_TMP/later" "$MNT/later" || t_fail "write later" "cp failed"
cr_umount "$MNT"
t_check "pending at unmount" "$("$BIN" status "$MNT" --json | grep -o '"key":"later"')" '"key":"later"'
curl -sS -X POST "$PX/__fault/config?reset=1" -d '{}' >/dev/null
cr_mount "$MNT" "$OPTS" || t_fail "remount" "mount failed"
"$BIN" status "$MNT" --wait --timeout 300 >/dev/null
t_check "the resumed upload finished" "$?" 0
in_bucket "resumed file whole in the bucket" later "$T_TMP/later"
cr_umount "$MNT"
t_summary
