#!/usr/bin/env bash
# Usage: package.sh BINARY TRIPLE OUTDIR [HELP_BINARY]
# Packages one built imdspec for TRIPLE (x86_64- or aarch64-unknown-linux-gnu) into OUTDIR:
# the bare binary, a tarball, a .deb (dpkg-deb) and an .rpm (rpmbuild, Debian's `rpm`
# package), each with the licence texts the manifest declares and a man page made from the
# --help texts of HELP_BINARY (default BINARY; give a host binary when BINARY is foreign),
# then rewrites OUTDIR/SHA256SUMS over every artefact there. Name, version, summary, licence
# and homepage come from the Cargo manifest (cargo metadata); the rest from imdspec.control.in
# and imdspec.spec.in beside this script.
set -euo pipefail
bin="$1"
triple="$2"
out="$3"
help_bin="${4:-$1}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

case "$triple" in
  x86_64-unknown-linux-gnu) deb_arch=amd64 rpm_arch=x86_64 ;;
  aarch64-unknown-linux-gnu) deb_arch=arm64 rpm_arch=aarch64 ;;
  *) echo "package.sh: no package architecture for $triple" >&2; exit 2 ;;
esac
for tool in dpkg-deb rpmbuild; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool missing (apt-get install dpkg rpm)" >&2; exit 1; }
done

# NAME VERSION SUMMARY LICENSE HOMEPAGE, tab-separated, from the manifest (workspace fields resolved).
IFS=$'\t' read -r name version summary license homepage < <(
  cargo metadata --offline --no-deps --format-version 1 --manifest-path "$root/crates/imdspec/Cargo.toml" |
    python3 -c '
import json, sys
p = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "imdspec")
print("\t".join([p["name"], p["version"], p["description"].rstrip("."), p["license"], p["repository"]]))')
# Debian and RPM both sort "~" before a release; RPM forbids "-" in Version.
pkg_version="${version//-/\~}"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bash "$here/manpage.sh" "$help_bin" > "$work/$name.1"
gzip -9n "$work/$name.1"

base="$name-$version-$triple"
install -m 755 "$bin" "$out/$base"

# Tarball: binary, man page, licences, README.
mkdir "$work/tar"
install -m 755 "$bin" "$work/tar/$name"
install -m 644 "$work/$name.1.gz" "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$root/README.md" "$work/tar/"
tar -C "$work/tar" -czf "$out/$base.tar.gz" --owner=0 --group=0 --sort=name .

# The file tree both packages install (the .deb keeps licences under doc/, as Debian does).
stage() {
  local dir="$1" licences="$2"
  install -d -m 755 "$dir/usr/bin" "$dir/usr/share/man/man1" "$dir$licences"
  install -m 755 "$bin" "$dir/usr/bin/$name"
  install -m 644 "$work/$name.1.gz" "$dir/usr/share/man/man1/"
  install -m 644 "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$dir$licences/"
}
fill() {
  sed -e "s|@NAME@|$name|g" -e "s|@DEB_VERSION@|$pkg_version-1|g" -e "s|@RPM_VERSION@|$pkg_version|g" \
    -e "s|@DEB_ARCH@|$deb_arch|g" -e "s|@SUMMARY@|$summary|g" -e "s|@LICENSE@|$license|g" \
    -e "s|@HOMEPAGE@|$homepage|g" -e "s|@STAGE@|$work/rpmstage|g" -e "s|@INSTALLED_KIB@|${kib:-0}|g" \
    -e "s/@DEPENDS@/$depends/g" "$1"
}

# Debian dependencies from the binary's own needs: glibc's baseline, libgcc_s only when linked.
depends="libc6 (>= 2.17)"
if readelf -d "$bin" 2>/dev/null | grep -q 'NEEDED.*\[libgcc_s\.so\.1\]'; then
  depends="$depends, libgcc-s1 | libgcc1"
fi

stage "$work/deb" "/usr/share/doc/$name"
kib=$(du -sk "$work/deb" | cut -f1)
install -d -m 755 "$work/deb/DEBIAN"
fill "$here/imdspec.control.in" > "$work/deb/DEBIAN/control"
(cd "$work/deb" && find usr -type f | sort | xargs md5sum > DEBIAN/md5sums)
deb="${name}_${pkg_version}-1_$deb_arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$work/deb" "$out/$deb" >/dev/null

stage "$work/rpmstage" "/usr/share/licenses/$name"
fill "$here/imdspec.spec.in" > "$work/$name.spec"
rpmbuild -bb --quiet --target "$rpm_arch-linux" \
  --define "_topdir $work/rpm" --define "_rpmdir $out" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  "$work/$name.spec"

(cd "$out" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort | xargs sha256sum -- > SHA256SUMS)
echo "$out:"
(cd "$out" && cat SHA256SUMS)
