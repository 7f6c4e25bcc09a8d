# shellcheck shell=bash
# s3v2.sh - requests signed with AWS Signature V2 (openssl HMAC-SHA1), for the
# checks that curl 7.88's --aws-sigv4 cannot sign: it sorts the signed headers
# as "name:value" lines, so a header whose name is a prefix of another's
# (x-amz-server-side-encryption and -aws-kms-key-id, -customer-key and
# -customer-key-MD5) is signed out of order and the server refuses it. RGW
# accepts V2. Sourced after tests/lib/common.sh (uses S3_* and s3_encode).
#
#   V2H=("x-amz-server-side-encryption-customer-algorithm: AES256" ...)
#   s3v2 GET KEY -o out -D hdrs -w '%{http_code}'
V2H=()

# s3v2 METHOD KEY [curl args...]: KEY raw ("" = the bucket); V2H are sent and signed.
s3v2() {
  local method=$1 key=$2 date h name value sts sig amz='' path
  shift 2
  date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
  local -a lines=() args=()
  for h in "${V2H[@]}"; do
    name=$(printf '%s' "${h%%:*}" | tr '[:upper:]' '[:lower:]')
    value=${h#*:}
    value=${value# }
    lines+=("$name:$value")
    args+=(-H "$h")
  done
  if [ ${#lines[@]} -gt 0 ]; then amz=$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort -t: -k1,1)$'\n'; fi
  path=/$S3_BUCKET
  [ -n "$key" ] && path+=/$(s3_encode "$key")
  sts="$method"$'\n\n\n'"$date"$'\n'"$amz$path"
  sig=$(printf '%s' "$sts" | openssl dgst -sha1 -hmac "$S3_SECRET_KEY" -binary | base64)
  local m=(-X "$method")
  [ "$method" = HEAD ] && m=(-I)
  curl -sS --max-time "${S3_CURL_TIMEOUT:-120}" "${m[@]}" -H "Date: $date" \
    -H "Authorization: AWS $S3_ACCESS_KEY:$sig" "${args[@]}" "$@" "$S3_ENDPOINT$path"
}

# ssec_headers KEYFILE: sets V2H to the SSE-C headers for the 32-byte key in KEYFILE (raw)
ssec_headers() {
  V2H=("x-amz-server-side-encryption-customer-algorithm: AES256"
    "x-amz-server-side-encryption-customer-key: $(base64 -w0 <"$1")"
    "x-amz-server-side-encryption-customer-key-MD5: $(openssl md5 -binary <"$1" | base64 -w0)")
}
