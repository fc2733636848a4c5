#!/usr/bin/env bash
# Usage: check-glibc.sh BINARY [MAX]. Fails when BINARY needs a glibc symbol version newer
# than MAX (default 2.17: Amazon Linux 2, Ubuntu 20.04, Debian 10 and newer have it), read
# from its versioned dynamic symbols (readelf); names the symbols that need a newer one.
set -euo pipefail
bin="$1"
max="${2:-2.17}"
symbols=$(readelf -W --dyn-syms "$bin" | grep -o '[A-Za-z0-9_]*@GLIBC_[0-9][0-9.]*' | sort -u)
[ -n "$symbols" ] || { echo "$bin: no versioned glibc symbols (not a dynamic glibc binary?)" >&2; exit 1; }
newer=""
while read -r s; do
  v="${s##*@GLIBC_}"
  [ "$(printf '%s\n%s\n' "$v" "$max" | sort -V | tail -1)" = "$max" ] || newer="$newer $s"
done <<< "$symbols"
newest=$(printf '%s\n' $symbols | sed 's/.*@GLIBC_//' | sort -V | tail -1)
if [ -n "$newer" ]; then
  echo "$bin needs glibc newer than $max:$newer" >&2
  exit 1
fi
echo "$bin: newest glibc symbol version GLIBC_$newest (baseline $max)"
