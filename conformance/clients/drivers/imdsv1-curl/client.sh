#!/bin/sh
# A deliberately bad IMDS client for `imdspec client-check` tests: IMDSv1 only (never a
# token), no retries, ignores AWS_EC2_METADATA_DISABLED and AWS_EC2_METADATA_V1_DISABLED.
# It reads the instance id, the region and the role credentials, stopping at the first
# failure; `--only COMPONENT` reads one of them, `--again-after-ms N` reads them again N ms
# after the start (it keeps nothing: every read goes to IMDS). It refuses to run against
# anything but a loopback endpoint.
set -u
components="instance-id region credentials"
again=""
while [ $# -gt 0 ]; do
  case "$1 ${2:-}" in
    "--only credentials" | "--only region" | "--only instance-id") components="$2" ;;
    --again-after-ms\ [0-9]*) again="$2" ;;
    *) echo "usage: client.sh [--only credentials|region|instance-id] [--again-after-ms N]" >&2; exit 2 ;;
  esac
  shift 2
done
base="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-}"
case "$base" in
  http://127.0.0.1:*) ;;
  *) echo "refusing endpoint '$base': not loopback" >&2; exit 2 ;;
esac
base="${base%/}"
get() { curl -sf --max-time 2 -H 'X-Forwarded-For: 10.0.0.1' "$base/latest/meta-data/$1"; }
load() {
  for c in $components; do
    case "$c" in
      instance-id) id=$(get instance-id) || exit 1; echo "instance $id" >&2 ;;
      region) region=$(get placement/region) || exit 1; echo "region $region" >&2 ;;
      credentials)
        role=$(get iam/security-credentials/) || exit 1
        get "iam/security-credentials/$role" >/dev/null || exit 1
        echo "role $role" >&2 ;;
    esac
  done
}
load
if [ -n "$again" ]; then
  sleep "$(awk "BEGIN { print $again / 1000 }")"
  load
fi
