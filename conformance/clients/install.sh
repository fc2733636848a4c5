#!/usr/bin/env bash
# Installs the real IMDS clients of the client matrix (conformance/clients/drivers/), pinned,
# idempotent: Debian packages with apt-get, botocore into a venv under the target dir, the
# JavaScript SDK with `npm ci`, the Go SDKs from the Go module proxy (each driver's go.mod and
# go.sum), the Java SDKs from Maven Central (each driver's pom.xml, offline after the first
# resolve), the real amazon-ec2-metadata-mock (`aemm`, for the runner's AEMM test) and moto's
# server (`moto`, a venv under the target dir, for tests/mock_targets.rs). Every
# cache (Go modules and builds, the Maven repository) lives under the target dir, so a fresh
# clone starts from nothing. With no argument every client and AEMM are installed; else only
# those named. A client that cannot be installed makes the script fail (CI runs it first).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
clients="$target/clients"
drivers="$root/conformance/clients/drivers"
mkdir -p "$clients/bin"

# Pinned versions (each driver.toml says the same).
BOTOCORE=1.43.11
AEMM=v1.13.0
MOTO=5.2.5
# purpleclay/imds-mock is not installed: the Go module proxy answers 403 "not available" for
# github.com/purpleclay/imds-mock (tried 2026-12-07; conformance/targets/README.md).

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

go_env() { # command...: the machine's Go, caches under the target dir, no toolchain download
  command -v go >/dev/null || { echo "install.sh: no go on PATH (Go 1.24 or later is needed)" >&2; exit 1; }
  GOMODCACHE="$clients/gomod" GOCACHE="$clients/gocache" GOTOOLCHAIN=local GOFLAGS=-trimpath "$@"
}

go_build() { # name: the driver's module, pinned by its go.mod and go.sum
  local out="$clients/bin/$1-driver"
  if [ ! -x "$out" ] || [ -n "$(find "$drivers/$1" -type f -newer "$out")" ]; then
    (cd "$drivers/$1" && go_env go build -mod=readonly -o "$out" .)
  fi
}

mvn_build() { # name: the driver's pom.xml and src/, built in a copy under the target dir
  command -v mvn >/dev/null || apt_install maven
  command -v java >/dev/null || apt_install default-jdk-headless
  local dir="$clients/$1"
  if [ ! -f "$dir/target/driver.jar" ] || ! cmp -s "$drivers/$1/pom.xml" "$dir/pom.xml" \
      || ! diff -rq "$drivers/$1/src" "$dir/src" >/dev/null 2>&1; then
    rm -rf "$dir/src" "$dir/target"
    mkdir -p "$dir"
    cp -r "$drivers/$1/pom.xml" "$drivers/$1/src" "$dir/"
    local mvn=(mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$clients/m2" -f "$dir/pom.xml" package)
    # Offline when the repository already has everything; else one online resolve.
    "${mvn[@]}" -o >/dev/null 2>&1 || "${mvn[@]}" >/dev/null \
      || { echo "install.sh: maven could not build $1 (run: ${mvn[*]})" >&2; exit 1; }
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
    aws-sdk-go-v2 | aws-sdk-go) go_build "$1" ;;
    aws-sdk-java-v2 | aws-sdk-java) mvn_build "$1" ;;
    aemm) # the real amazon-ec2-metadata-mock, pinned (crates/imdspec/tests/aemm_real.rs)
      "$clients/bin/ec2-metadata-mock" --version 2>/dev/null | grep -q "${AEMM#v}" \
        || go_env env GOBIN="$clients/bin" GOFLAGS="-trimpath -mod=readonly" \
          go install "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@$AEMM"
      ;;
    moto) # moto's server, pinned (crates/imdspec/tests/mock_targets.rs, conformance/targets/moto.toml)
      [ -x "$clients/moto-venv/bin/python" ] || python3 -m venv "$clients/moto-venv"
      "$clients/moto-venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO')" 2>/dev/null \
        || "$clients/moto-venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO"
      ;;
    cloud-init) apt_install cloud-init python3 ;;
    ec2-metadata) apt_install amazon-ec2-utils curl ;;
    imdsv1-curl) apt_install curl ;;
    aws-sdk-js-v3-metadata-service) install_one aws-sdk-js-v3; return ;;
    *) echo "install.sh: unknown client '$1' (see conformance/clients/drivers/)" >&2; exit 2 ;;
  esac
  echo "installed $1"
}

if [ $# -eq 0 ]; then
  set -- $(cd "$drivers" && ls -d */ | tr -d /) aemm moto
fi
for c in "$@"; do install_one "$c"; done
