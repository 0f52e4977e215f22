#!/usr/bin/env bash
# clang-tidy with the checks listed in .clang-tidy, zero findings allowed. With no
# arguments: every product .cpp (common, daemon, proxy, provisioning, bench) of the
# normal build; with files: those of them (dev.sh lint passes what a change touches).
# Needs build/compile_commands.json (any build of build/).
#
# --windows [files]: the Windows-only files instead (platform/windows/, daemon/windows/),
# read with build-windows/compile_commands.json (bash packaging/dev.sh windows) as the
# mingw-w64 cross-compiler sees them: clang is told the target, and given the mingw g++'s
# own C++ include directories, because clang 14 does not find a GCC whose version
# directory is "12-posix".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
db=build/compile_commands.json
# GCC's -Wno-restrict is unknown to clang.
extra=(-extra-arg=-Wno-unknown-warning-option)
if [ "${1:-}" = --windows ]; then
  shift
  db=build-windows/compile_commands.json
  product='^(common|daemon|proxy|provisioning)/(.*/)?windows/.*\.cpp$'
  extra+=(-extra-arg=--target=x86_64-w64-mingw32 -extra-arg=-nostdinc++)
  # The cross g++'s search list, C++ directories only (the C ones clang finds itself).
  while read -r dir; do
    extra+=("-extra-arg=-isystem$dir")
  done < <(x86_64-w64-mingw32-g++-posix -E -x c++ -v - </dev/null 2>&1 |
    sed -n '/#include <...> search starts/,/End of search/p' | sed -n 's|^ \(/.*/include/c++.*\)$|\1|p')
  [ -f "$db" ] || { echo "tidy: $db missing: cross-build first (bash packaging/dev.sh windows)" >&2; exit 2; }
else
  product='^(common|daemon|proxy|provisioning|bench)/.*\.cpp$'
  [ -f "$db" ] || { echo "tidy: $db missing: build first (bash packaging/dev.sh build)" >&2; exit 2; }
fi
if [ $# -gt 0 ]; then
  mapfile -t files < <(printf '%s\n' "$@" | grep -E "$product" || true)
else
  mapfile -t files < <(git ls-files | grep -E "$product")
fi
# Only files the build compiles (a new file before its first build has no entry; the
# Linux build compiles no Windows-only file).
mapfile -t files < <(for f in "${files[@]}"; do grep -qF "\"$PWD/$f\"" "$db" && echo "$f"; done)
[ ${#files[@]} -gt 0 ] || { echo "tidy: no product file to check"; exit 0; }
started=$SECONDS
log=$(dirname "$db")/tidy.log  # kept: the whole output, for a look after a failure
# Plain text, not colours, for the grep below.
run-clang-tidy -quiet -p "$(dirname "$db")" -j "$(nproc)" "${extra[@]}" "${files[@]/#/$PWD/}" 2>&1 |
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
