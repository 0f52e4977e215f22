#!/usr/bin/env bash
# Fails when a tracked C++ file is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find . -name '*.[ch]pp' -not -path './build*')
[ ${#files[@]} -gt 0 ] || exit 0
clang-format --dry-run --Werror "${files[@]}"
echo "lint: ${#files[@]} files formatted"
# The floors of ARCHITECTURE.md: includes only run down, never into packaging/, no cycles.
python3 packaging/lint-includes.py
# Comments cite only sections this repository's documents have.
python3 packaging/lint-doc-refs.py
