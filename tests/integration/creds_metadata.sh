#!/usr/bin/env bash
# creds_metadata.sh - (issue 14) every network credential source against a
# loopback service that speaks its protocol as documented
# (tests/tools/fake_creds.js) and hands out real temporary credentials of a
# role at the test's Ceph RGW, so that each mount really works:
#   EC2 IMDSv2, ECS/EKS container credentials, web identity (STS
#   AssumeRoleWithWebIdentity), the Alibaba ECS RAM role (hardened mode),
#   Alibaba OIDC (AssumeRoleWithOIDC), and a credential process;
# what each was sent (token headers and TTLs, the authorization token, the
# form fields); each failure (no answer, 401, malformed JSON, expired
# credentials) stopping the mount with one clear line; and a refresh that
# fails: the old credentials serve until they expire, then an upload waits,
# checkpointed, `status` says why, and it completes once refreshing works.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
. "$BUCKETFS_ROOT/tests/lib/creds.sh" # a private RGW with STS
sts_setup || t_abort "no STS at the RGW"
command -v node >/dev/null || t_abort "node missing"

echo -n "Bearer container-secret-token" >"$T_TMP/container-token"
echo "eyJ.web-identity.jwt" >"$T_TMP/web-token"
echo "eyJ.oidc.jwt" >"$T_TMP/oidc-token"
start_fake_creds --duration 900 --container-token "Bearer container-secret-token" \
  --web-token eyJ.web-identity.jwt --oidc-token eyJ.oidc.jwt || t_abort "fake_creds did not start"

MNT=$T_TMP/mnt
BASE="url=$S3_ENDPOINT,cache_dir=$T_TMP/cache"
# env for each source, as the SDKs read it
src_env() {
  case $1 in
    imds) echo "AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$FC" ;;
    container) echo "AWS_CONTAINER_CREDENTIALS_FULL_URI=$FC/v2/credentials/task AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T_TMP/container-token" ;;
    web_identity) echo "AWS_WEB_IDENTITY_TOKEN_FILE=$T_TMP/web-token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/irsa AWS_ROLE_SESSION_NAME=pod-1 AWS_ENDPOINT_URL_STS=$FC" ;;
    ecs_ram_role) echo "ALIBABA_CLOUD_ECS_METADATA_DISABLED=false" ;;
    oidc) echo "ALIBABA_CLOUD_OIDC_TOKEN_FILE=$T_TMP/oidc-token ALIBABA_CLOUD_ROLE_ARN=acs:ram::1:role/rrsa ALIBABA_CLOUD_OIDC_PROVIDER_ARN=acs:ram::1:oidc-provider/ack" ;;
  esac
}
# options for each source (the Alibaba ones have no SDK variable for the endpoint)
src_opts() {
  case $1 in
    ecs_ram_role) echo ",credentials=ecs_ram_role,metadata_endpoint=$FC" ;;
    oidc) echo ",credentials=oidc,sts_endpoint=$FC" ;;
    *) echo ",credentials=$1" ;;
  esac
}

# --- each source mounts, and is sent what its protocol says -----------------
for src in imds container web_identity ecs_ram_role oidc; do
  : >"$FC_LOG"
  # shellcheck disable=SC2046
  if cr_mount "$MNT" "$BASE$(src_opts $src)" $(src_env $src); then
    t_contains "$src: the log names it" "$(grep 'credentials: ' "$CR_LOG" | tail -n 1)" "temporary, valid until"
    echo "through $src" >"$T_TMP/f-$src"
    cp "$T_TMP/f-$src" "$MNT/f-$src" || t_fail "$src: write" "cp failed"
    "$BIN" status "$MNT" --wait --timeout 120 >/dev/null
    in_bucket "$src: the file is in the bucket" "f-$src" "$T_TMP/f-$src"
    cr_umount "$MNT"
  else
    t_fail "$src: mount" "$(tail -n 1 "$CR_LOG")"
  fi
  log=$(cat "$FC_LOG")
  case $src in
    imds)
      t_contains "imds: token PUT with a TTL" "$log" '"method":"PUT","path":"/latest/api/token","query":{},"ttl":"21600","status":200'
      t_contains "imds: role listed with the token" "$log" '"path":"/latest/meta-data/iam/security-credentials/","query":{},"token_sent":true,"token_valid":true,"status":200'
      t_contains "imds: credentials with the token" "$log" '"path":"/latest/meta-data/iam/security-credentials/bfs-role","query":{},"token_sent":true,"token_valid":true,"status":200'
      t_check "imds: no request without a token" "$(grep -c '"token_sent":false' "$FC_LOG")" 0 ;;
    container)
      t_contains "container: the token from the file" "$log" '"path":"/v2/credentials/task","query":{},"authorization":"Bearer container-secret-token","status":200' ;;
    web_identity)
      t_contains "web_identity: AssumeRoleWithWebIdentity form" "$log" '"form":{"Action":"AssumeRoleWithWebIdentity","Version":"2011-06-15","RoleArn":"arn:aws:iam::123456789012:role/irsa","RoleSessionName":"pod-1","WebIdentityToken":"eyJ.web-identity.jwt"}'
      t_contains "web_identity: not signed" "$log" '"authorization":null,"status":200' ;;
    ecs_ram_role)
      t_contains "ecs_ram_role: token PUT with a TTL" "$log" '"method":"PUT","path":"/latest/api/token","query":{},"ttl":"21600","status":200'
      t_contains "ecs_ram_role: credentials with the token" "$log" '"path":"/latest/meta-data/ram/security-credentials/bfs-role","query":{},"token_sent":true,"token_valid":true,"status":200' ;;
    oidc)
      t_contains "oidc: the query" "$log" '"Version":"2015-04-01","Action":"AssumeRoleWithOIDC","Format":"JSON","Timestamp":'
      t_contains "oidc: the form" "$log" '"form":{"RoleArn":"acs:ram::1:role/rrsa","OIDCProviderArn":"acs:ram::1:oidc-provider/ack","OIDCToken":"eyJ.oidc.jwt"' ;;
  esac
done

# A credential process that gets its credentials from the RGW's STS itself.
cat >"$T_TMP/creds-process.sh" <<EOF
#!/bin/sh
xml=\$(curl -sS --max-time 30 -X POST --aws-sigv4 "aws:amz:us-east-1:sts" --user "$STS_BASE_KEY:$STS_BASE_SECRET" \\
  --data "Action=AssumeRole&Version=2011-06-15&RoleArn=$STS_ROLE_ARN&RoleSessionName=proc&DurationSeconds=900" \\
  "$S3_ENDPOINT/") || exit 1
v() { echo "\$xml" | sed -n "s:.*<\$1>\\([^<]*\\)</\$1>.*:\\1:p"; }
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}\n' \\
  "\$(v AccessKeyId)" "\$(v SecretAccessKey)" "\$(v SessionToken)" "\$(v Expiration)"
EOF
chmod 700 "$T_TMP/creds-process.sh"
printf '[profile proc]\ncredential_process = %s --unused "two words"\n' "$T_TMP/creds-process.sh" >"$CR_HOME/.aws/config"
if cr_mount "$MNT" "$BASE,profile=proc"; then
  t_contains "process: the log names it" "$(grep 'credentials: ' "$CR_LOG" | tail -n 1)" \
    "credentials: credential process $T_TMP/creds-process.sh (profile 'proc' credential_process); temporary"
  echo "through a process" >"$T_TMP/f-process"
  cp "$T_TMP/f-process" "$MNT/f-process" || t_fail "process: write" "cp failed"
  "$BIN" status "$MNT" --wait --timeout 120 >/dev/null
  in_bucket "process: the file is in the bucket" f-process "$T_TMP/f-process"
  cr_umount "$MNT"
else
  t_fail "process: mount" "$(tail -n 1 "$CR_LOG")"
fi

# --- each failure stops the mount with one clear line -------------------------
check_fail() { # NAME OUTPUT NEEDLE
  local first=${2%%$'\n'*}
  t_contains "$1" "$2" "$3"
  t_check "$1: exit 1, nothing mounted" "${2%% *}" rc=1
  t_check "$1: one line" "$(printf '%s\n' "$2" | wc -l)" 1
  [[ $first != *"$STS_BASE_SECRET"* ]] || t_fail "$1: no secret" "the secret is in the message"
}
check_fail "imds unreachable" "$(cr_mount_fails "$BASE,credentials=imds" AWS_EC2_METADATA_DISABLED=false \
  AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1)" \
  "bucketfs: EC2 instance metadata at http://127.0.0.1:1: cannot reach http://127.0.0.1:1/latest/api/token"
check_fail "container token refused" "$(cr_mount_fails "$BASE,credentials=container" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$FC/v2/credentials/task" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong)" \
  "the agent answered HTTP 401"
check_fail "web identity token refused" "$(cr_mount_fails "$BASE,credentials=web_identity" \
  AWS_WEB_IDENTITY_TOKEN_FILE="$T_TMP/oidc-token" AWS_ROLE_ARN=arn:aws:iam::1:role/x AWS_ENDPOINT_URL_STS="$FC")" \
  "STS answered HTTP 400 InvalidIdentityToken"
for mode in unauthorized malformed expired; do
  fc_mode "$mode"
  want_imds=$(case $mode in unauthorized) echo "answered HTTP 401" ;; malformed) echo "the answer is not JSON" ;;
    expired) echo "returned credentials that expired at" ;; esac)
  want_sts=$(case $mode in unauthorized) echo "STS answered HTTP 401" ;;
    malformed) echo "STS answered 200 without AssumeRoleWithWebIdentity credentials" ;;
    expired) echo "returned credentials that expired at" ;; esac)
  want_oidc=$(case $mode in unauthorized) echo "STS answered HTTP 401" ;; malformed) echo "the answer is not JSON" ;;
    expired) echo "returned credentials that expired at" ;; esac)
  for src in imds container ecs_ram_role; do
    # shellcheck disable=SC2046
    check_fail "$src $mode" "$(cr_mount_fails "$BASE$(src_opts $src)" $(src_env $src))" "$want_imds"
  done
  # shellcheck disable=SC2046
  check_fail "web_identity $mode" "$(cr_mount_fails "$BASE$(src_opts web_identity)" $(src_env web_identity))" "$want_sts"
  # shellcheck disable=SC2046
  check_fail "oidc $mode" "$(cr_mount_fails "$BASE$(src_opts oidc)" $(src_env oidc))" "$want_oidc"
done
fc_mode ok

# --- a refresh that fails: serve, expire, wait, resume --------------------------
# Credentials of 60 s. A file is written while they are valid, but the server
# refuses its upload (503) until they have expired; refreshing breaks right
# after the mount. The upload then waits for credentials, checkpointed, and
# `status` says why; once refreshing works again it completes.
. "$BUCKETFS_ROOT/tests/lib/fault.sh"
start_proxy --seed 3 || t_abort "fault proxy did not start"
start_fake_creds --duration 60 || t_abort "second fake_creds did not start"
if cr_mount "$MNT" "url=$PX,cache_dir=$T_TMP/cache,credentials=imds" AWS_EC2_METADATA_DISABLED=false \
  AWS_EC2_METADATA_SERVICE_ENDPOINT="$FC"; then
  fc_mode error
  curl -sS -X POST "$PX/__fault/config" -d '{"p503": 100, "match": "^PUT "}' >/dev/null
  echo "written while the credentials were valid" >"$T_TMP/waiting"
  cp "$T_TMP/waiting" "$MNT/waiting" || t_fail "write" "cp failed"
  expired=""
  for _ in $(seq 1 240); do
    expired=$("$BIN" status "$MNT" | grep '^credentials:.*EXPIRED')
    [ -n "$expired" ] && break
    sleep 0.5
  done
  t_contains "status says the credentials expired and why" "$expired" "; refreshing has failed since "
  t_contains "status names the refresh error" "$expired" "HTTP 500"
  t_contains "status says uploads wait" "$expired" "uploads wait (checkpointed) until a refresh succeeds"
  t_contains "the JSON too" "$("$BIN" status "$MNT" --json)" '"valid":false'
  curl -sS -X POST "$PX/__fault/config?reset=1" -d '{}' >/dev/null
  # The upload's next pass finds no credentials to sign with: it waits.
  waiting=""
  for _ in $(seq 1 240); do
    waiting=$("$BIN" status "$MNT" --json | grep -o '"key":"waiting"[^}]*"last_error":"[^"]*CredentialsUnavailable[^"]*')
    [ -n "$waiting" ] && break
    sleep 0.5
  done
  t_contains "the pending upload says it waits for credentials" "$waiting" "the upload waits"
  t_contains "and why" "$waiting" "expired at"
  t_check "nothing of it reached the bucket yet" "$(role_get waiting)" 404
  if cp "$T_TMP/waiting" "$MNT/other" 2>"$T_TMP/cp.err"; then
    t_fail "a new file needs credentials" "cp succeeded"
  else
    t_contains "a new file needs credentials" "$(cat "$T_TMP/cp.err")" "Permission denied"
  fi
  fc_mode ok
  "$BIN" status "$MNT" --wait --timeout 240 >/dev/null
  t_check "the upload completed once refreshing worked" "$?" 0
  t_contains "status: valid again" "$("$BIN" status "$MNT" | grep '^credentials:')" "valid until"
  in_bucket "the file is in the bucket" waiting "$T_TMP/waiting"
  cr_umount "$MNT"
else
  t_fail "mount for the refresh test" "$(tail -n 1 "$CR_LOG")"
fi
t_summary
