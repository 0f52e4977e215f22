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
run-clang-tidy -quiet -p build -j "$(nproc)" "${files[@]/#/$PWD/}" >/tmp/zoneproxy-tidy.$$ 2>&1 || true
findings=$(grep -cE '(warning|error): .*\[[a-z]+-[a-z0-9.-]+\]$' /tmp/zoneproxy-tidy.$$ || true)
if [ "$findings" -gt 0 ]; then
  grep -E -A3 '(warning|error): .*\[[a-z]+-[a-z0-9.-]+\]$' /tmp/zoneproxy-tidy.$$ | head -200
  echo "tidy: $findings findings in ${#files[@]} files (.clang-tidy lists the checks)" >&2
  rm -f /tmp/zoneproxy-tidy.$$
  exit 1
fi
rm -f /tmp/zoneproxy-tidy.$$
echo "tidy: ${#files[@]} files, 0 findings ($((SECONDS - started)) s)"
