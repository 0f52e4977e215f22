#!/usr/bin/env bash
# A section-8 man page from a program's --help texts: help2man for the top level, and
# each subcommand's own --help as a section, so `man zoneproxy` documents every flag.
#   make-man.sh PROGRAM "one-line description" OUT.8.gz
set -euo pipefail
program=$1 description=$2 out=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The subcommands are the indented words under "Subcommands:" in the top-level help.
mapfile -t subcommands < <("$program" --help | sed -n '/^Subcommands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p')
{
  for sub in "${subcommands[@]}"; do
    echo "[=${sub}]"  # help2man: a section of its own, after the options
    echo ".nf"
    "$program" "$sub" --help | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./'
    echo ".fi"
  done
  echo "[SEE ALSO]"
  echo "/usr/share/doc/zoneproxy/README.md, zoneproxy(8), zoneproxyctl(8)"
} >"$work/include"
# The help's first line names the program; help2man's NAME comes from --name instead.
help2man --section 8 --no-info --name "$description" --include "$work/include" "$program" >"$work/page.8"
gzip -9n <"$work/page.8" >"$out"
