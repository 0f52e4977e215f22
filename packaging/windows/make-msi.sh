#!/usr/bin/env bash
# The MSI around the cross-built executables (bash packaging/dev.sh windows runs it):
#   build-windows/zoneproxy-<version>-x64.msi
# holding zoneproxy.exe, zoneproxyctl.exe, the default zoneproxy.toml
# (packaging/windows/zoneproxy.toml) and README.md; packaging/windows/zoneproxy.wxs says
# what it installs and registers. Prints the MSI's path as its last line.
#   $1  the folder with the two .exe files (default build-windows/bin)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
bin=${1:-build-windows/bin}
version=$(sed -n 's/^project(zoneproxy VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for f in "$bin/zoneproxy.exe" "$bin/zoneproxyctl.exe"; do
  [ -f "$f" ] || { echo "make-msi: $f is missing (bash packaging/dev.sh windows builds it)" >&2; exit 2; }
  cp "$f" "$stage/"
done
cp packaging/windows/zoneproxy.wxs packaging/windows/zoneproxy.toml README.md "$stage/"
out=$root/build-windows/zoneproxy-$version-x64.msi
mkdir -p "$(dirname "$out")"
(cd "$stage" && wixl -a x64 -D Version="$version" -o "$out" zoneproxy.wxs)
echo "$out"
