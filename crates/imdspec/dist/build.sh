#!/usr/bin/env bash
# `just dist`: imdspec for Linux x86_64 and aarch64 (Graviton) that runs on Amazon Linux 2 and
# 2023, Ubuntu 20.04+ and Debian 10+ (linked by zig against glibc 2.17, checked from its
# versioned symbols), each as a bare binary, a tarball, a .deb and an .rpm with the licence
# texts and a man page (package.sh), and SHA256SUMS over all of them; in TARGET/dist/.
# Zig and cargo-zigbuild come prebuilt from PyPI (requirements.txt) into a venv under the
# target dir; dpkg-deb and rpmbuild from Debian (`apt-get install rpm`); the aarch64 standard
# library from `rustup target add aarch64-unknown-linux-gnu`.
# Usage: build.sh [TRIPLE...] (default: both).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
glibc=2.17
venv="$target/dist-tools"
out="$target/dist"
host=x86_64-unknown-linux-gnu
triples=("$@")
[ ${#triples[@]} -gt 0 ] || triples=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! cmp -s "$here/requirements.txt" "$venv/.requirements"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"

cd "$root"
rm -rf "$out" && mkdir -p "$out"
for triple in "${triples[@]}"; do
  rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
  cargo zigbuild --locked --release -p imdspec --target "$triple.$glibc"
  bash "$here/check-glibc.sh" "$target/$triple/release/imdspec" "$glibc"
done
# The man page comes from --help, so it needs a binary this machine runs.
help_bin="$target/$host/release/imdspec"
[ -x "$help_bin" ] || cargo zigbuild --locked --release -p imdspec --target "$host.$glibc"
for triple in "${triples[@]}"; do
  bash "$here/package.sh" "$target/$triple/release/imdspec" "$triple" "$out" "$help_bin"
done
