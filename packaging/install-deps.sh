#!/usr/bin/env bash
# Installs what one purpose needs from Debian 12's packages, and nothing more: a DMZ host
# that only builds and runs the proxy gets no test tool and no extra service.
#
#   bash packaging/install-deps.sh build     compile and run zoneproxy (also `run`, the .deb's build)
#   bash packaging/install-deps.sh test      the above, plus every tool the tests use
#   bash packaging/install-deps.sh windows   the above build set, plus the cross compiler, Wine, wixl
#   bash packaging/install-deps.sh fuzz      the build set, plus clang's libFuzzer
#   bash packaging/install-deps.sh --list PURPOSE   print the packages, install nothing
#
# Non-interactive and idempotent: when everything is already installed it does nothing.
# Packages that would start a service of their own (prometheus, haproxy: test tools) are
# installed with services kept from starting, and disabled afterwards.
set -euo pipefail

build=(
  # toolchain
  build-essential cmake ninja-build pkg-config git python3 ccache
  # libraries (found with find_package; GoogleTest and Google Benchmark build the tests
  # and benchmarks, which `build` compiles too)
  libssl-dev libasio-dev libabsl-dev prometheus-cpp-dev libbenchmark-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libspdlog-dev libcli11-dev libtomlplusplus-dev libhttp-parser-dev libsystemd-dev
  # run time: the dev PKI and pins (certs/make-pki.sh, packaging/dev.sh run)
  openssl ca-certificates procps
  # the .deb: man pages from the --help texts
  dpkg-dev help2man
)
windows=(
  # zoneproxy.exe and zoneproxyctl.exe (bash packaging/dev.sh windows): the cross compiler
  # with posix threads, the source packages' tools, Wine to run them here, the MSI
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 patch xz-utils wine64
  wixl msitools
)
fuzz=(clang libclang-rt-14-dev)
test_tools=(
  # sanitizer builds and lint
  clang clang-tidy clang-format libclang-rt-14-dev
  # the alert rules' unit tests (promtool) and the bench's TLS forwarder to compare against
  prometheus haproxy
  # packaging checks (packaging/ci-packaging.sh): unit analysis, the .deb's lint, the MSI
  systemd file util-linux lintian
  "${windows[@]}"
)
# Test tools that Debian starts as a service when installed.
services=(prometheus haproxy)

purpose=${1:-}
list_only=false
if [ "$purpose" = --list ]; then
  list_only=true
  purpose=${2:-}
fi
case "$purpose" in
  build | run) packages=("${build[@]}") ;;
  test) packages=("${build[@]}" "${test_tools[@]}") ;;
  windows) packages=("${build[@]}" "${windows[@]}") ;;
  fuzz) packages=("${build[@]}" "${fuzz[@]}") ;;
  *)
    echo "usage: bash packaging/install-deps.sh [--list] build|run|test|windows|fuzz" >&2
    exit 2
    ;;
esac
if $list_only; then
  printf '%s\n' "${packages[@]}" | sort -u
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages for '$purpose' present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps ($purpose): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No service starts while installing (invoke-rc.d asks policy-rc.d; 101: not allowed),
# unless the host already has its own policy.
policy=/usr/sbin/policy-rc.d
made_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  made_policy=true
fi
cleanup() { if $made_policy; then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Nor at the next boot: the tests start their own instances when they need them.
for s in "${services[@]}"; do
  for p in "${missing[@]}"; do
    [ "$p" = "$s" ] || continue
    "${sudo[@]}" systemctl disable "$s" >/dev/null 2>&1 || true
    "${sudo[@]}" systemctl stop "$s" >/dev/null 2>&1 || true
  done
done
