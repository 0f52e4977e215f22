#!/usr/bin/env bash
# The newcomer's entry point: each command does the whole set-up by itself (installs
# Debian packages, configures, builds) and then does its job.
#
#   bash packaging/dev.sh run    run a dev proxy on 127.0.0.1 (state and dev PKI in .dev/)
#   bash packaging/dev.sh test   every test: normal build, ASan+UBSan, TSan, lint
#   bash packaging/dev.sh build  just build (build/bin/zoneproxy, build/bin/zoneproxyctl)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)

configure_and_build() {  # dir [cmake args...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

cmd_build() {
  bash packaging/install-deps.sh
  configure_and_build build
}

cmd_run() {
  cmd_build
  local dev="$root/.dev"
  mkdir -p "$dev"
  [ -f "$dev/pki/ms-ca.crt" ] || bash certs/make-pki.sh "$dev/pki" dev >/dev/null
  cat <<HINT

zoneproxy dev instance (127.0.0.1 only)
  state dir   $dev/state   (bootstrap token: $dev/state/bootstrap-token)
  dev PKI     $dev/pki     (ms-ca, ms-client: dev Module Server CA and client cert;
                            zone-ca: signs the proxy's CSRs; endpoint-ca, endpoint-client)
Try, from another terminal:
  curl -sk https://127.0.0.1:17488/v1/identity
  openssl s_client -connect 127.0.0.1:17488 -tls1_2 </dev/null   # TLS 1.2: accepted
  openssl s_client -connect 127.0.0.1:17488 -tls1_3 </dev/null   # TLS 1.3: refused
Stop with Ctrl-C.

HINT
  exec build/bin/zoneproxy run --state-dir "$dev/state" --bind 127.0.0.1 --log-level info
}

run_ctest() {  # dir [ctest args...]
  local dir=$1
  shift
  (cd "$dir" && ctest -j "$jobs" --output-on-failure --timeout 900 "$@")
}

run_fuzzer() {  # target corpus-name
  local work
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$2"/* "$work"/
  local rc=0
  build-fuzz/bin/"$1" -max_total_time="${ZP_FUZZ_SECONDS:-60}" -max_len=20000 -print_final_stats=1 \
    "$work" >"$work.log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|Done)|ERROR|SUMMARY|==[0-9]+==' "$work.log" | head -40 || true
  rm -rf "$work" "$work.log"
  [ "$rc" -eq 0 ] || { echo "fuzzer $1 found a failure" >&2; return 1; }
}

cmd_test() {
  bash packaging/install-deps.sh
  local started=$SECONDS
  echo "== lint: clang-format"
  bash packaging/lint.sh
  echo "== build + tests (RelWithDebInfo, -Werror)"
  configure_and_build build
  run_ctest build
  echo "== build + tests under ASan+UBSan"
  configure_and_build build-asan -DZONEPROXY_SANITIZE=address,undefined -DZONEPROXY_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan
  echo "== concurrent tests under TSan"
  configure_and_build build-tsan -DZONEPROXY_SANITIZE=thread -DZONEPROXY_BENCH=OFF
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest build-tsan -L tsan
  echo "== fuzzing (libFuzzer, clang, bounded)"
  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZONEPROXY_FUZZ=ON \
    -DZONEPROXY_TESTS=OFF -DZONEPROXY_BENCH=OFF >/dev/null
  cmake --build build-fuzz -j "$jobs" --target hello_parser_fuzz
  run_fuzzer hello_parser_fuzz hello
  echo "== all tests passed in $((SECONDS - started)) s"
}

case "${1:-}" in
  run) cmd_run ;;
  test) cmd_test ;;
  build) cmd_build ;;
  *) echo "usage: bash packaging/dev.sh run|test|build" >&2; exit 2 ;;
esac
