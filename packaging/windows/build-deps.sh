#!/usr/bin/env bash
# Cross-builds zoneproxy's dependencies for 64-bit Windows (mingw-w64, posix threads,
# static libraries) from the source packages Debian 12 ships, so that zoneproxy.exe runs
# the same library code as the Linux build.
#
#   bash packaging/windows/build-deps.sh           build the prefix if missing; print it last
#   ZP_WINDOWS_CACHE=/dir bash ...                 where prefixes and sources live
#                                                  (default /var/cache/zoneproxy-windows)
#
# The prefix is $ZP_WINDOWS_CACHE/<key>, the key a hash of this script, the toolchain file
# and the cross compiler's version: a machine pays the cold build (about 6 minutes on 2
# cores) once, and a change to any of those builds a new prefix beside the old one. It is
# built in a scratch folder and renamed into place when complete, so an interrupted build
# leaves nothing that looks usable. Every tarball is checked against the SHA-256 pinned
# below before it is unpacked; a mismatch stops the build.
#
# Sources: apt-get source --download-only against Debian's archive, with an apt state of
# its own (only deb-src lines), so the system's binary package lists are not touched.
# asio and toml++ are header-only and their source tarballs are not served: their headers
# come from the binary packages (arch-independent header files).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
toolchain=$root/packaging/windows/mingw64.cmake
cache=${ZP_WINDOWS_CACHE:-/var/cache/zoneproxy-windows}
if [ -z "${ZP_WINDOWS_CACHE:-}" ] && ! { mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ]; }; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/zoneproxy-windows  # not root: the user's own cache
fi
jobs=$(nproc)
started=$SECONDS

# file  sha256  (source package, or binary package for the two header-only ones)
pins=(
  "openssl_3.0.22.orig.tar.gz 67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81 openssl=3.0.22-1~deb12u2"
  "abseil_20220623.1.orig.tar.gz abfe2897f3a30edaa74bc34365afe3c2a3cd012091a97dc7e008f7016adcd5fe abseil=20220623.1-1+deb12u2"
  "abseil_20220623.1-1+deb12u2.debian.tar.xz @ abseil=20220623.1-1+deb12u2"
  "fmtlib_9.1.0+ds1.orig.tar.gz 84ce1c2d0be3a9863935137969dcec6970125caac032f82474640bfc81463583 fmtlib=9.1.0+ds1-2"
  "spdlog_1.10.0+ds.orig.tar.xz 620ca6842b5c21014470bd42eb4716024674214fb973b5ffa3aaea33310ad327 spdlog=1:1.10.0+ds-0.4"
  "prometheus-cpp_1.0.1.orig.tar.gz 593e028d401d3298eada804d252bc38d8cab3ea1c9e88bcd72095281f85e6d16 prometheus-cpp=1.0.1-1"
  "http-parser_2.9.4.orig.tar.gz 467b9e30fd0979ee301065e70f637d525c28193449e1b13fbcb1b1fab3ad224f http-parser=2.9.4-5"
  "http-parser_2.9.4-5.debian.tar.xz @ http-parser=2.9.4-5"
  "nlohmann-json3_3.11.2.orig.tar.gz d69f9deb6a75e2580465c6c4c5111b89c4dc2fa94e3a85fcd2ffcd9a143d9273 nlohmann-json3=3.11.2-2"
  "cli11_2.1.2+ds.orig.tar.xz 8143d20b688e98ccce8e24562d3b68e5f47c12e896c42c7ca8553dbde5bed55d cli11=2.1.2+ds-1"
  "libasio-dev_1%3a1.22.1-1_all.deb d55e7b0773dcd4385b366b888415908902a2b3483dcb1bb193d6565b38c03af0 deb:libasio-dev=1:1.22.1-1"
  "libtomlplusplus-dev_3.3.0+ds-1_amd64.deb 2779cce0001466dcf60eb6262ff68a888d49f9e30aee80c499d1d4f6f9f6e12e deb:libtomlplusplus-dev=3.3.0+ds-1"
)

compiler_version=$(x86_64-w64-mingw32-g++-posix -dumpfullversion 2>/dev/null) || {
  echo "build-deps: x86_64-w64-mingw32-g++-posix not found (apt-get install g++-mingw-w64-x86-64-posix)" >&2
  exit 1
}
key=$(cat "${BASH_SOURCE[0]}" "$toolchain" <(echo "$compiler_version") | sha256sum | cut -c1-16)
prefix=$cache/$key

if [ -f "$prefix/.complete" ]; then
  echo "build-deps: warm: $prefix reused ($((SECONDS - started)) s)" >&2
  echo "$prefix"
  exit 0
fi

sources=$cache/sources
mkdir -p "$sources"
exec 9>"$cache/.lock"
flock 9  # two builds at once would race for the same prefix

# Debian's .debian.tar.xz files carry the patches Debian applies (security fixes among
# them); '@' pins them through the .dsc's own Checksums-Sha256, itself fetched over the
# archive's signed index.
fetch_sources() {
  local apt=$cache/apt
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial"
  local srcparts=/etc/apt/sources.list.d
  # Types: deb -> deb-src, in a copy; the system's lists stay as they are.
  for f in "$srcparts"/*.sources; do
    [ -e "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" >"$apt/sources.list.d/$(basename "$f")"
  done
  if [ -s /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$apt/sources.list.d/system.list"
  fi
  local opts=(-o Dir::Etc::SourceParts="$apt/sources.list.d" -o Dir::Etc::SourceList=/dev/null
    -o Dir::State::Lists="$apt/lists" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq
  local line file sum spec
  for line in "${pins[@]}"; do
    read -r file sum spec <<<"$line"
    [ -f "$sources/$file" ] && continue
    if [[ $spec == deb:* ]]; then
      (cd "$sources" && apt-get -o APT::Sandbox::User=root download -qq "${spec#deb:}")
    else
      # A missing .debian.tar.xz of another package is not an error here; the check
      # below fails on what is really missing.
      (cd "$sources" && apt-get "${opts[@]}" source --download-only -qq "$spec" >/dev/null 2>&1) || true
    fi
  done
}

verify_sources() {
  local line file sum spec bad=0
  for line in "${pins[@]}"; do
    read -r file sum spec <<<"$line"
    if [ ! -f "$sources/$file" ]; then
      echo "build-deps: $file could not be fetched ($spec)" >&2
      bad=1
      continue
    fi
    if [ "$sum" = "@" ]; then
      local dsc
      dsc=$(ls "$sources/${file%%_*}"_*.dsc | head -n 1)
      sum=$(awk -v f="$file" '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0} on && $3 == f {print $1}' "$dsc")
    fi
    if [ "$(sha256sum "$sources/$file" | cut -d' ' -f1)" != "$sum" ]; then
      echo "build-deps: $sources/$file: SHA-256 does not match the pinned $sum; deleted, run again to refetch" >&2
      rm -f "$sources/$file"
      bad=1
    fi
  done
  return "$bad"
}

need_fetch=0
for line in "${pins[@]}"; do
  read -r file _ _ <<<"$line"
  [ -f "$sources/$file" ] || need_fetch=1
done
[ "$need_fetch" -eq 0 ] || fetch_sources
verify_sources
echo "build-deps: sources verified ($((SECONDS - started)) s); cold build into $prefix" >&2

stage=$cache/$key.partial
rm -rf "$stage" "$cache/$key.work"
work=$cache/$key.work
mkdir -p "$stage" "$work"
trap 'rm -rf "$work"' EXIT

step() {  # name: logs to $work/<name>.log; the log's tail is printed when it fails
  local name=$1 t0=$SECONDS
  shift
  # In a subshell of its own that is not a condition, so that set -e holds inside it.
  local rc=0
  ("$@") >"$work/$name.log" 2>&1 &
  wait $! || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "build-deps: $name failed; the end of its log:" >&2
    tail -n 40 "$work/$name.log" >&2
    exit 1
  fi
  echo "build-deps: $name $((SECONDS - t0)) s" >&2
}

unpack() {  # tarball dir
  mkdir -p "$work/$2"
  tar -xf "$sources/$1" -C "$work/$2" --strip-components=1
}

debian_patches() {  # tarball dir patch...: applies Debian's patches named, in order
  local tarball=$1 dir=$2
  shift 2
  local p
  for p in "$@"; do
    tar -xOf "$sources/$tarball" "debian/patches/$p" | patch -d "$work/$dir" -p1 --forward --batch
  done
}

cmake_build() {  # dir [cmake args...]
  local dir=$1
  shift
  cmake -S "$work/$dir" -B "$work/$dir/_build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DZP_WINDOWS_PREFIX="$stage" -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=OFF "$@"
  cmake --build "$work/$dir/_build" -j "$jobs"
  cmake --install "$work/$dir/_build"
}

build_openssl() {
  unpack openssl_3.0.22.orig.tar.gz openssl
  cd "$work/openssl"
  # no-shared: libssl.a/libcrypto.a only. OPENSSLDIR, ENGINESDIR and MODULESDIR are
  # compiled in: where openssl.cnf, engines and providers are looked for. Configure makes
  # them paths under this machine's prefix, which on Windows would name a folder on the
  # current drive that any user may create (and a planted openssl.cnf can load code: the
  # CVE-2019-1552 class). They point under Program Files instead, writable by
  # administrators only.
  ./Configure mingw64 no-shared no-tests --cross-compile-prefix=x86_64-w64-mingw32- --prefix="$stage" --libdir=lib
  local dirs=(OPENSSLDIR='C:/Program Files/zoneproxy/openssl' ENGINESDIR='C:/Program Files/zoneproxy/openssl/engines-3'
    MODULESDIR='C:/Program Files/zoneproxy/openssl/ossl-modules')
  make -j "$jobs" "${dirs[@]}" build_libs
  make "${dirs[@]}" install_dev
}

build_abseil() {
  unpack abseil_20220623.1.orig.tar.gz abseil
  # Debian's series: its configuration (absl::string_view and friends are Abseil's own
  # types, not std's; the inline namespace; hardened mode), which our code is written
  # against, and its fixes. latomic.diff only adds an ELF linker flag (--as-needed).
  local series
  series=$(tar -xOf "$sources/abseil_20220623.1-1+deb12u2.debian.tar.xz" debian/patches/series | grep -v -e '^#' -e latomic)
  # shellcheck disable=SC2086 # one patch name per word
  debian_patches abseil_20220623.1-1+deb12u2.debian.tar.xz abseil $series
  cmake_build abseil -DCMAKE_CXX_STANDARD=17 -DABSL_PROPAGATE_CXX_STD=ON -DBUILD_TESTING=OFF
}

build_fmt_spdlog() {
  unpack fmtlib_9.1.0+ds1.orig.tar.gz fmt
  cmake_build fmt -DFMT_TEST=OFF -DFMT_DOC=OFF -DFMT_INSTALL=ON
  unpack spdlog_1.10.0+ds.orig.tar.xz spdlog
  cmake_build spdlog -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_BUILD_EXAMPLE=OFF -DSPDLOG_BUILD_TESTS=OFF \
    -DSPDLOG_BUILD_BENCH=OFF -DSPDLOG_INSTALL=ON -Dfmt_DIR="$stage/lib/cmake/fmt"
}

build_prometheus() {
  unpack prometheus-cpp_1.0.1.orig.tar.gz prometheus-cpp
  cmake_build prometheus-cpp -DENABLE_PULL=OFF -DENABLE_PUSH=OFF -DENABLE_COMPRESSION=OFF -DENABLE_TESTING=OFF \
    -DUSE_THIRDPARTY_LIBRARIES=OFF -DOVERRIDE_CXX_STANDARD_FLAGS=OFF -DGENERATE_PKGCONFIG=OFF
}

build_http_parser() {
  unpack http-parser_2.9.4.orig.tar.gz http-parser
  # Debian's fixes to the parser (request smuggling CVE-2020-8287, Content-Length with
  # chunked): the Linux build links the patched library, so does this one.
  local series
  series=$(tar -xOf "$sources/http-parser_2.9.4-5.debian.tar.xz" debian/patches/series | grep -v -e '^#' -e 'improve-installation')
  # shellcheck disable=SC2086 # one patch name per word
  debian_patches http-parser_2.9.4-5.debian.tar.xz http-parser $series
  x86_64-w64-mingw32-gcc-posix -O2 -DHTTP_PARSER_STRICT=0 -c "$work/http-parser/http_parser.c" -o "$work/http_parser.o"
  mkdir -p "$stage/lib" "$stage/include"
  x86_64-w64-mingw32-gcc-ar-posix rcs "$stage/lib/libhttp_parser.a" "$work/http_parser.o"
  cp "$work/http-parser/http_parser.h" "$stage/include/"
}

build_header_only() {
  unpack nlohmann-json3_3.11.2.orig.tar.gz json
  cmake_build json -DJSON_BuildTests=OFF -DJSON_Install=ON
  unpack cli11_2.1.2+ds.orig.tar.xz cli11
  cmake_build cli11 -DCLI11_BUILD_TESTS=OFF -DCLI11_BUILD_EXAMPLES=OFF -DCLI11_BUILD_DOCS=OFF -DCLI11_PRECOMPILED=OFF
  local deb
  for deb in libasio-dev_1%3a1.22.1-1_all.deb libtomlplusplus-dev_3.3.0+ds-1_amd64.deb; do
    dpkg-deb -x "$sources/$deb" "$work/${deb%%_*}"
  done
  cp -r "$work/libasio-dev/usr/include/asio" "$work/libasio-dev/usr/include/asio.hpp" "$stage/include/"
  cp -r "$work/libtomlplusplus-dev/usr/include/toml++" "$stage/include/"
  # Debian's toml++ config points at its Linux shared library; on Windows it is used
  # header-only, as one target of the same name.
  mkdir -p "$stage/lib/cmake/tomlplusplus"
  cat >"$stage/lib/cmake/tomlplusplus/tomlplusplusConfig.cmake" <<'EOF'
# toml++ 3.3.0 (Debian's headers), header-only for the Windows build.
if(NOT TARGET tomlplusplus::tomlplusplus)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  get_filename_component(_tomlpp_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_tomlpp_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1")
endif()
EOF
  echo 'set(PACKAGE_VERSION 3.3.0)
set(PACKAGE_VERSION_COMPATIBLE TRUE)' >"$stage/lib/cmake/tomlplusplus/tomlplusplusConfigVersion.cmake"
}

step openssl build_openssl
step abseil build_abseil
step fmt+spdlog build_fmt_spdlog
step prometheus-cpp build_prometheus
step http-parser build_http_parser
step header-only build_header_only

{
  echo "zoneproxy Windows dependencies, built $(date -u +%FT%TZ) with x86_64-w64-mingw32-g++-posix $compiler_version"
  printf '%s\n' "${pins[@]}"
} >"$stage/BUILD-INFO"
touch "$stage/.complete"
mv "$stage" "$prefix"
echo "build-deps: cold build done in $((SECONDS - started)) s ($(du -sh "$prefix" | cut -f1))" >&2
echo "$prefix"
