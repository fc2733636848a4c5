#!/bin/sh
# Debian's `ec2-metadata` (package amazon-ec2-utils) run by `imdspec client-check`: it reads the
# instance id and the availability zone (`ec2-metadata -i -z`). The tool has its base URL
# written into the script (METADATA_BASEURL, no environment override), so a copy with that one
# line pointed at the loopback endpoint is run; the copy is checked to name no other address.
# It reads no credentials and no region (n/a). `--only instance-id` reads the instance id alone
# (`ec2-metadata -i`). Exit 0 when the values came back, 1 otherwise, 2 when the endpoint is not
# a loopback one, the arguments are wrong or the tool is missing.
set -u
flags="-i -z"
case "$*" in
  "") ;;
  "--only instance-id") flags="-i" ;;
  *) echo "usage: client.sh [--only instance-id]" >&2; exit 2 ;;
esac
base="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-}"
case "$base" in
  http://127.0.0.1:*) ;;
  *) echo "refusing endpoint '$base': not loopback" >&2; exit 2 ;;
esac
tool="${EC2_METADATA_TOOL:-/usr/bin/ec2-metadata}"
[ -r "$tool" ] || { echo "$tool is missing (apt-get install amazon-ec2-utils)" >&2; exit 2; }
copy=$(mktemp) || exit 2
trap 'rm -f "$copy"' EXIT
sed "s|^METADATA_BASEURL=.*|METADATA_BASEURL=\"${base%/}\"|" "$tool" > "$copy"
if grep -q '169\.254\.169\.254' "$copy"; then
  echo "the copy of $tool still names the link-local address; not running it" >&2
  exit 2
fi
# shellcheck disable=SC2086 # the flags are words on purpose
out=$(bash "$copy" $flags) || { echo "ec2-metadata failed: $out" >&2; exit 1; }
echo "$out" >&2
echo "$out" | grep -q '^instance-id: i-' || exit 1
[ "$flags" = "-i" ] || echo "$out" | grep -q '^placement: [a-z]' || exit 1
