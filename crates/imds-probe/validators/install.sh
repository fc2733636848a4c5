#!/usr/bin/env bash
# Installs the schema validators of the probe's fleet formats (validate.py, tests/sinks.rs)
# into the client matrix's botocore venv under the target dir: botocore at the version
# conformance/clients/install.sh pins, plus requirements.txt. Idempotent; fails when a
# package cannot be installed (CI runs it before the tests).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
bash "$root/conformance/clients/install.sh" botocore >/dev/null
python="$target/clients/venv/bin/python"
stamp="$target/clients/venv/.validators-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
  "$python" -m pip install -q --disable-pip-version-check --no-deps -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
"$python" -c "import botocore, jsonschema, ocsf_json_schema"
echo "installed the probe's schema validators"
