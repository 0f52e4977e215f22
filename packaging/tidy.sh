#!/usr/bin/env bash
# clang-tidy with the checks listed in .clang-tidy, zero findings allowed. With no
# arguments: every product .cpp (common, daemon, proxy, provisioning, bench) of the
# normal build; with files: those of them (dev.sh lint passes what a change touches).
# Needs build/compile_commands.json (any build of build/). Windows-only files are not in
# it: the Linux build does not compile them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
db=build/compile_commands.json
[ -f "$db" ] || { echo "tidy: $db missing: build first (bash packaging/dev.sh build)" >&2; exit 2; }
product='^(common|daemon|proxy|provisioning|bench)/.*\.cpp$'
if [ $# -gt 0 ]; then
  mapfile -t files < <(printf '%s\n' "$@" | grep -E "$product" || true)
else
  mapfile -t files < <(git ls-files | grep -E "$product" | grep -v '/platform/windows/\|/windows/')
fi
# Only files the build compiles (a new file before its first build has no entry).
mapfile -t files < <(for f in "${files[@]}"; do grep -qF "\"$PWD/$f\"" "$db" && echo "$f"; done)
[ ${#files[@]} -gt 0 ] || { echo "tidy: no product file to check"; exit 0; }
started=$SECONDS
log=build/tidy.log  # kept: the whole output, for a look after a failure
# GCC's -Wno-restrict is unknown to clang; plain text, not colours, for the grep below.
run-clang-tidy -quiet -p build -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option "${files[@]/#/$PWD/}" 2>&1 |
  sed 's/\x1b\[[0-9;]*m//g' >"$log" || true
# A finding in a header shows once per file that includes it: count each once.
finding='(warning|error): .*\[[a-z]+-[a-z0-9.,-]+\]$'
findings=$({ grep -E "$finding" "$log" || true; } | sort -u | wc -l)
if [ "$findings" -gt 0 ]; then
  grep -E "$finding" "$log" | sort -u | head -200
  echo "tidy: $findings findings in ${#files[@]} files (.clang-tidy lists the checks; all output in $log)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files, 0 findings ($((SECONDS - started)) s)"
