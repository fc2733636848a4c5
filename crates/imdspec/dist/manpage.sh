#!/usr/bin/env bash
# Usage: manpage.sh BINARY > imdspec.1. A man page from the binary's own --help texts: the
# top-level help, then every subcommand's (found in each "Commands:" list, recursively), each
# verbatim in a no-fill block so clap's layout survives. The binary must run on this machine.
set -euo pipefail
bin="$1"
name=imdspec
version=$("$bin" --version | awk '{print $2}')

# Roff reads a leading "." or "'" as a request and "\" as an escape.
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

# The subcommand names listed under "Commands:" in a help text (not `help`).
subcommands() {
  awk '/^Commands:/ {on=1; next} on && /^[^ ]/ {on=0} on && /^  [a-z]/ {print $1}' | grep -vx help || true
}

section() {
  local path="$1"
  shift
  local help
  help=$("$bin" "$@" --help)
  printf '.SS "%s"\n.nf\n' "$path"
  printf '%s\n' "$help" | roff
  printf '.fi\n'
  for sub in $(printf '%s\n' "$help" | subcommands); do
    section "$path $sub" "$@" "$sub"
  done
}

top=$("$bin" --help)
summary=$(printf '%s\n' "$top" | head -1 | sed -e 's/^The imdspec command line: //' -e 's/\.$//')
printf '.TH %s 1 "" "%s %s" "User Commands"\n' "${name^^}" "$name" "$version"
printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
printf '.SH SYNOPSIS\n.B %s\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n' "$name"
printf '.SH DESCRIPTION\n.nf\n'
printf '%s\n' "$top" | roff
printf '.fi\n.SH COMMANDS\n'
for sub in $(printf '%s\n' "$top" | subcommands); do
  section "$name $sub" "$sub"
done
printf '.SH "SEE ALSO"\nREADME.md in the release tarball and the source repository.\n'
