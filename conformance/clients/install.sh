#!/usr/bin/env bash
# Installs the real IMDS clients of the client matrix (conformance/clients/drivers/), pinned,
# idempotent: Debian packages with apt-get, botocore into a venv under the target dir, the
# JavaScript SDK with `npm ci` in its driver folder, and the two Go SDKs built offline from
# Debian's packaged sources. With no argument every client is installed; else only those named.
# A client that cannot be installed makes the script fail (CI runs it before the tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
clients="$target/clients"
drivers="$root/conformance/clients/drivers"
mkdir -p "$clients/bin"

# Pinned versions (each driver.toml says the same).
BOTOCORE=1.43.11
GO_V2_DEB=1.17.1-3
GO_V1_DEB=1.44.133-1

apt_updated=""
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

deb_version() { dpkg-query -W -f='${Version}' "$1"; }

check_version() { # package wanted
  local have; have=$(deb_version "$1")
  [ "$have" = "$2" ] || { echo "$1 is $have, the matrix records $2: update the driver manifest" >&2; exit 1; }
}

go_build() { # name package wanted
  apt_install golang-go "$2"
  check_version "$2" "$3"
  local out="$clients/bin/$1-driver"
  if [ ! -x "$out" ] || [ "$drivers/$1/main.go" -nt "$out" ]; then
    (cd "$drivers/$1" && GOPATH=/usr/share/gocode GO111MODULE=off GOPROXY=off GOFLAGS= \
      GOCACHE="$clients/gocache" go build -o "$out" .)
  fi
}

install_one() {
  case "$1" in
    aws-sdk-rust) ;; # built by cargo (crates/imdspec/examples/rust_sdk_client.rs)
    botocore)
      [ -x "$clients/venv/bin/python" ] || python3 -m venv "$clients/venv"
      "$clients/venv/bin/python" -c "import botocore, sys; sys.exit(botocore.__version__ != '$BOTOCORE')" 2>/dev/null \
        || "$clients/venv/bin/pip" install -q --disable-pip-version-check "botocore==$BOTOCORE"
      ;;
    aws-sdk-js-v3)
      command -v node >/dev/null || apt_install nodejs
      command -v npm >/dev/null || apt_install npm
      # npm ci next to a copy of the pins, under the target dir; the driver finds the packages
      # through NODE_PATH (its driver.toml).
      local dir="$clients/aws-sdk-js-v3"
      mkdir -p "$dir"
      if ! cmp -s "$drivers/aws-sdk-js-v3/package-lock.json" "$dir/package-lock.json" \
          || [ ! -d "$dir/node_modules/@smithy/credential-provider-imds" ]; then
        cp "$drivers/aws-sdk-js-v3/package.json" "$drivers/aws-sdk-js-v3/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      fi
      ;;
    aws-sdk-go-v2) go_build aws-sdk-go-v2 golang-github-aws-aws-sdk-go-v2-dev "$GO_V2_DEB" ;;
    aws-sdk-go) go_build aws-sdk-go golang-github-aws-aws-sdk-go-dev "$GO_V1_DEB" ;;
    cloud-init) apt_install cloud-init python3 ;;
    ec2-metadata) apt_install amazon-ec2-utils curl ;;
    imdsv1-curl) apt_install curl ;;
    aws-sdk-js-v3-metadata-service) install_one aws-sdk-js-v3; return ;;
    *) echo "install.sh: unknown client '$1' (see conformance/clients/drivers/)" >&2; exit 2 ;;
  esac
  echo "installed $1"
}

if [ $# -eq 0 ]; then
  set -- $(cd "$drivers" && ls -d */ | tr -d /)
fi
for c in "$@"; do install_one "$c"; done
