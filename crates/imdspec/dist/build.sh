#!/usr/bin/env bash
# `just dist`: a Linux x86_64 imdspec that runs on Amazon Linux 2 and 2023, Ubuntu 20.04+ and
# Debian 10+ (linked by zig against glibc 2.17, checked from its versioned symbols), a
# tarball with the licence texts and README, and SHA256SUMS; all in TARGET/dist/.
# The tools come prebuilt from PyPI (requirements.txt) into a venv under the target dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
triple=x86_64-unknown-linux-gnu
glibc=2.17
venv="$target/dist-tools"
out="$target/dist"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! cmp -s "$here/requirements.txt" "$venv/.requirements"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"

cd "$root"
cargo zigbuild --locked --release -p imdspec --target "$triple.$glibc"
bin="$target/$triple/release/imdspec"
bash "$here/check-glibc.sh" "$bin" "$glibc"

rm -rf "$out" && mkdir -p "$out"
version=$(cargo pkgid -p imdspec | sed 's/.*[#@]//')
name="imdspec-$version-$triple"
cp "$bin" "$out/$name"
mkdir "$out/$name.d"
cp "$bin" LICENSE-MIT LICENSE-APACHE README.md "$out/$name.d/"
tar -C "$out/$name.d" -czf "$out/$name.tar.gz" --owner=0 --group=0 .
rm -r "$out/$name.d"
(cd "$out" && sha256sum -- "$name" "$name.tar.gz" > SHA256SUMS && cat SHA256SUMS)
