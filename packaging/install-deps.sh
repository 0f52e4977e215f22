#!/usr/bin/env bash
# Installs every build, test and run dependency of zoneproxy from Debian 12's packages.
# Non-interactive and idempotent: when everything is already installed it does nothing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang clang-tidy clang-format libclang-rt-14-dev python3 ccache
  # libraries (found with find_package)
  libssl-dev libasio-dev libabsl-dev prometheus-cpp-dev libbenchmark-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libspdlog-dev libcli11-dev libtomlplusplus-dev libhttp-parser-dev libsystemd-dev
  # run time and tests
  openssl ca-certificates procps prometheus
  # the bench smoke test and bench/peers: a TLS forwarder to compare against
  haproxy
  # packaging checks (packaging/ci-packaging.sh): unit analysis, .deb, MSI
  systemd dpkg-dev file util-linux wixl msitools
  # zoneproxy.exe and zoneproxyctl.exe (bash packaging/dev.sh windows): the cross compiler
  # with posix threads, the source packages' tools, and Wine to run them here
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 dpkg-dev patch xz-utils wine64
  # the .deb's man pages (from the --help texts) and its lint
  help2man lintian
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
