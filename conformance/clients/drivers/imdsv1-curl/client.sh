#!/bin/sh
# A deliberately bad IMDS client for `imdspec client-check` tests: IMDSv1 only (never a
# token), no retries, ignores AWS_EC2_METADATA_DISABLED and AWS_EC2_METADATA_V1_DISABLED.
# It refuses to run against anything but a loopback endpoint.
set -u
base="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-}"
case "$base" in
  http://127.0.0.1:*) ;;
  *) echo "refusing endpoint '$base': not loopback" >&2; exit 2 ;;
esac
base="${base%/}"
get() { curl -sf --max-time 2 -H 'X-Forwarded-For: 10.0.0.1' "$base/latest/meta-data/$1"; }
id=$(get instance-id) || exit 1
region=$(get placement/region) || exit 1
role=$(get iam/security-credentials/) || exit 1
get "iam/security-credentials/$role" >/dev/null || exit 1
echo "instance $id in $region, role $role" >&2
