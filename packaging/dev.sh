#!/usr/bin/env bash
# The newcomer's entry point: each command does the whole set-up by itself (installs
# Debian packages, configures, builds) and then does its job.
#
#   bash packaging/dev.sh run    run a dev proxy on 127.0.0.1 (state and dev PKI in .dev/)
#   bash packaging/dev.sh test   every test: normal build, ASan+UBSan, TSan, lint
#   bash packaging/dev.sh build  just build (build/bin/zoneproxy, build/bin/zoneproxyctl)
#   bash packaging/dev.sh lint   clang-format, include floors, and clang-tidy on the files
#                                your change touches (uncommitted, or else the last commit)
#   bash packaging/dev.sh windows  cross-build build-windows/bin/zoneproxy.exe and zoneproxyctl.exe
#                                  and the MSI around them (build-windows/zoneproxy-*-x64.msi)
#                                  (mingw-w64; dependencies from Debian's sources, cached in
#                                  /var/cache/zoneproxy-windows: about 6 minutes the first time)
#   bash packaging/dev.sh fuzz [TARGET]  libFuzzer targets for ZP_FUZZ_SECONDS (60) each
#                                        (or ZP_FUZZ_RUNS executions, whichever comes first);
#                                ZP_FUZZ_SEED=N repeats a run
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)

# ccache, kept outside the clone: a machine that built before rebuilds only what changed,
# whatever folder it cloned into (paths relative to the clone, the folder not hashed).
if [ -z "${CCACHE_DIR:-}" ]; then
  CCACHE_DIR=/var/cache/zoneproxy-ccache
  mkdir -p "$CCACHE_DIR" 2>/dev/null && [ -w "$CCACHE_DIR" ] || CCACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/zoneproxy-ccache
fi
export CCACHE_DIR CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
launcher() {  # the cmake arguments that put ccache in front of the compilers, if installed
  command -v ccache >/dev/null && echo "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache"
  return 0
}

configure_and_build() {  # dir [cmake args...]
  local dir=$1
  shift
  # shellcheck disable=SC2046 # launcher() prints separate arguments
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZONEPROXY_WERROR=ON $(launcher) "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

cmd_build() {
  bash packaging/install-deps.sh build
  configure_and_build build
}

# System DLLs a Windows exe may import; anything else would have to ship beside it.
windows_system_dlls='^(kernel32|ws2_32|crypt32|advapi32|user32|msvcrt|mswsock|shell32|ole32|oleaut32|bcrypt|gdi32|dbghelp|iphlpapi|psapi|secur32|userenv|ntdll|api-ms-win-.*)\.dll$'

cmd_windows() {
  bash packaging/install-deps.sh windows
  local prefix t0=$SECONDS
  prefix=$(bash packaging/windows/build-deps.sh | tail -n 1)
  echo "windows: dependencies in $prefix ($((SECONDS - t0)) s)"
  # shellcheck disable=SC2046
  cmake -S . -B build-windows -G Ninja -DCMAKE_TOOLCHAIN_FILE=packaging/windows/mingw64.cmake $(launcher) \
    -DZP_WINDOWS_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DZONEPROXY_TESTS=OFF -DZONEPROXY_BENCH=OFF \
    -DZONEPROXY_WERROR=ON >/dev/null
  cmake --build build-windows -j "$jobs"
  local exe dlls
  for exe in zoneproxy zoneproxyctl; do
    dlls=$(x86_64-w64-mingw32-objdump -p "build-windows/bin/$exe.exe" | sed -n 's/^\tDLL Name: //p' | sort -f)
    echo "windows: build-windows/bin/$exe.exe ($(du -h "build-windows/bin/$exe.exe" | cut -f1)) imports:" $dlls
    if grep -viE "$windows_system_dlls" <<<"$dlls"; then
      echo "windows: $exe.exe imports a DLL that is not part of Windows (above)" >&2
      return 1
    fi
  done
  echo "windows: MSI $(bash packaging/windows/make-msi.sh | tail -n 1)"
}

cmd_run() {
  cmd_build
  local dev="$root/.dev"
  mkdir -p "$dev"
  [ -f "$dev/pki/ms-ca.crt" ] || bash certs/make-pki.sh "$dev/pki" dev >/dev/null
  local ctl=(build/bin/zoneproxyctl --proxy 127.0.0.1:17488 --cert "$dev/pki/ms-client.crt" --key "$dev/pki/ms-client.key"
    --ca "$dev/pki/zone-ca.crt")
  build/bin/zoneproxy run --state-dir "$dev/state" --bind 127.0.0.1 --log-level info &
  local pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
  for _ in $(seq 1 100); do
    build/bin/zoneproxyctl --proxy 127.0.0.1:17488 --insecure identity >/dev/null 2>&1 && break  # is it up yet
    "${ctl[@]}" identity >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
    sleep 0.1
  done
  if [ -f "$dev/state/bootstrap-token" ]; then
    # First run: provision with the dev PKI (zone CA signs the proxy's CSRs), pinning the
    # proxy's identity read from its own state directory, as an operator pins the log's.
    local pin
    pin=$(openssl x509 -in "$dev/state/identity/ecdsa.crt" -pubkey -noout | openssl pkey -pubin -outform der |
      sha256sum | cut -d' ' -f1)
    build/bin/zoneproxyctl --proxy 127.0.0.1:17488 --pin "$pin" --token-file "$dev/state/bootstrap-token" provision \
      --module-server-ca "$dev/pki/ms-ca.crt" --zone-ca-cert "$dev/pki/zone-ca.crt" \
      --zone-ca-key "$dev/pki/zone-ca.key" --cn zoneproxy-dev --ip 127.0.0.1 --dns localhost >/dev/null
  fi
  cat <<HINT

zoneproxy dev instance, provisioned, on 127.0.0.1 (state: $dev/state, dev PKI: $dev/pki)
  17486 endpoints (TLS 1.2)   17487 Module Server (mutual TLS)   17488 control API (mutual TLS)
Try, from another terminal:
  ${ctl[*]} status
  ${ctl[*]} sessions
  ${ctl[*]} metrics | head
  openssl s_client -connect 127.0.0.1:17486 -tls1_3 </dev/null     # refused: TLS 1.2 only
  # a session: run both halves (same id), each in its own terminal
  printf 'GET /v1/rendezvous/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n' > /tmp/hello
  (cat /tmp/hello; cat) | openssl s_client -quiet -connect 127.0.0.1:17486
  (cat /tmp/hello; cat) | openssl s_client -quiet -connect 127.0.0.1:17487 -cert $dev/pki/ms-client.crt -key $dev/pki/ms-client.key
Stop with Ctrl-C (the proxy drains and exits 0).

HINT
  wait $pid
}

run_ctest() {  # dir [ctest args...]
  local dir=$1
  shift
  (cd "$dir" && ctest -j "$jobs" --output-on-failure --timeout 900 "$@")
}

run_fuzzer() {  # target corpus-name
  # Reproducible when it fails: the seed is printed (ZP_FUZZ_SEED repeats it), the
  # crashing input is kept under build-asan/fuzz-artifacts/ and its hex head printed.
  local target=$1 corpus=tests/fuzz/corpus/$2
  local out=build-asan/fuzz-artifacts/$target
  local seed=${ZP_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
  rm -rf "$out"
  mkdir -p "$out/work"
  echo "fuzz $target: seed=$seed seconds=${ZP_FUZZ_SECONDS:-60} (repeat: ZP_FUZZ_SEED=$seed bash packaging/dev.sh fuzz $target)"
  # The seed corpus first, input by input: a kept regression fails here, named, every run.
  local rc=0 regression=
  build-asan/bin/"$target" -runs=1 "$corpus"/* >"$out/regressions.log" 2>&1 || rc=$?
  # The input libFuzzer was running when it died is the last one it named.
  [ "$rc" -eq 0 ] || regression=$(sed -n 's/^Running: //p' "$out/regressions.log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    cp "$corpus"/* "$out/work"/
    build-asan/bin/"$target" -seed="$seed" -max_total_time="${ZP_FUZZ_SECONDS:-60}" ${ZP_FUZZ_RUNS:+-runs="$ZP_FUZZ_RUNS"} -max_len=20000 \
      -print_final_stats=1 -artifact_prefix="$out/" "$out/work" >"$out/fuzz.log" 2>&1 || rc=$?
    grep -E '^(stat::number_of_executed_units|Done)|ERROR|SUMMARY|==[0-9]+==' "$out/fuzz.log" | head -40 || true
  else
    grep -E 'Running:|ERROR|SUMMARY|==[0-9]+==' "$out/regressions.log" | head -40 || true
  fi
  rm -rf "$out/work"
  [ "$rc" -ne 0 ] || return 0
  echo "fuzzer $target found a failure (seed $seed; logs in $out/)" >&2
  local crash
  for crash in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* ${regression:+"$regression"}; do
    [ -f "$crash" ] || continue
    echo "crashing input: $crash ($(stat -c %s "$crash") bytes); repeat: build-asan/bin/$target $crash" >&2
    od -An -tx1 -N128 "$crash" >&2
  done
  return 1
}

# One sanitizer build serves the ASan+UBSan test run and the fuzzers: clang, everything
# instrumented for ASan+UBSan and for libFuzzer's coverage; only the fuzz targets link
# libFuzzer's main. (A separate fuzzing build cost CI about 7 minutes.)
configure_asan() {
  # shellcheck disable=SC2046
  CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(launcher) \
    -DZONEPROXY_SANITIZE=address,undefined -DZONEPROXY_FUZZ=ON -DZONEPROXY_BENCH=OFF -DZONEPROXY_WERROR=ON >/dev/null
}

build_fuzzers() {
  configure_asan
  cmake --build build-asan -j "$jobs" --target "${fuzz_targets[@]}"
}

# target:corpus-folder pairs of every libFuzzer target.
fuzz_pairs=(hello_parser_fuzz:hello api_request_fuzz:api api_body_fuzz:body proxy_header_fuzz:proxy state_file_fuzz:state
  local_config_fuzz:config tls12_records_fuzz:records)
fuzz_targets=("${fuzz_pairs[@]%%:*}")

cmd_fuzz() {  # [target]: every target (or one) for ZP_FUZZ_SECONDS each
  bash packaging/install-deps.sh fuzz
  build_fuzzers
  local pair failed=0
  for pair in "${fuzz_pairs[@]}"; do
    [ -z "${1:-}" ] || [ "${pair%%:*}" = "$1" ] || continue
    run_fuzzer "${pair%%:*}" "${pair#*:}" || failed=1
  done
  return "$failed"
}

stage() {  # title: prints the time the previous stage took, then the title
  [ -z "${stage_started:-}" ] || echo "   ($((SECONDS - stage_started)) s)"
  stage_started=$SECONDS
  echo "== $1"
}

cmd_test() {
  bash packaging/install-deps.sh test
  local started=$SECONDS
  stage "lint: clang-format, include floors"
  bash packaging/lint.sh
  stage "build + tests (RelWithDebInfo, -Werror)"
  configure_and_build build
  run_ctest build
  stage "clang-tidy: the checks .clang-tidy lists, every product file, zero findings"
  bash packaging/tidy.sh
  stage "chaos: 20 s of random sessions, resets and cuts; any lost or altered byte fails"
  bash bench/own-daemon.sh --scenario chaos --rate 20 --duration 20 >/dev/null
  stage "build + tests under ASan+UBSan (clang; the same build has the fuzzers)"
  configure_asan
  cmake --build build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan \
    -LE kill9
  stage "concurrent tests under TSan"
  # What the tsan label runs: the lock-free session table, and the data plane's rendezvous,
  # relay and fault-injection tests (worker threads, pairs handed across workers), and the
  # listener that accepts for several workers (the Windows path), and the session-ticket
  # key ring every worker's handshakes share. The
  # slow-reader test is about memory bounds, not threads, and takes minutes under TSan:
  # it runs in the other two.
  # shellcheck disable=SC2046
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZONEPROXY_SANITIZE=thread $(launcher) \
    -DZONEPROXY_BENCH=OFF -DZONEPROXY_WERROR=ON >/dev/null
  cmake --build build-tsan -j "$jobs" --target session_table_test session_table_stress_test rendezvous_test relay_test \
    fault_injection_test listener_test ticket_keys_test
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest build-tsan -L tsan -E SlowReader
  stage "fuzzing (libFuzzer, ${ZP_FUZZ_SECONDS:-30} s per target; the seed corpus first)"
  local pair
  for pair in "${fuzz_pairs[@]}"; do ZP_FUZZ_SECONDS=${ZP_FUZZ_SECONDS:-30} run_fuzzer "${pair%%:*}" "${pair#*:}"; done
  stage "Windows: zoneproxy.exe and zoneproxyctl.exe cross-built, clang-tidy on the Windows-only files, run under Wine"
  cmd_windows
  bash packaging/tidy.sh --windows
  bash tests/windows/run-under-wine.sh
  stage "Release build as a packager makes it (-O3; still -Werror here), packaged from it"
  # shellcheck disable=SC2046
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DZONEPROXY_TESTS=OFF -DZONEPROXY_BENCH=OFF $(launcher) \
    -DZONEPROXY_WERROR=ON >/dev/null
  cmake --build build-release -j "$jobs"
  stage "packaging: systemd unit, .deb (installed and purged as root)"
  ZP_BUILD_DIR=build-release bash packaging/ci-packaging.sh
  stage "done"
  echo "== all tests passed in $((SECONDS - started)) s"
  if command -v ccache >/dev/null; then ccache --show-stats 2>/dev/null | grep -iE "hits|misses|cache size" || true; fi
}

cmd_lint() {
  bash packaging/lint.sh
  [ -f build/compile_commands.json ] || configure_and_build build
  local changed
  changed=$(git diff --name-only HEAD; git ls-files --others --exclude-standard)
  [ -n "$changed" ] || changed=$(git diff --name-only HEAD~1 HEAD)
  # shellcheck disable=SC2086 # one file name per word
  bash packaging/tidy.sh $changed
  # The Windows-only files, when a cross-build (dev.sh windows) left its compile database.
  # shellcheck disable=SC2086
  if [ -f build-windows/compile_commands.json ]; then bash packaging/tidy.sh --windows $changed; fi
}

case "${1:-}" in
  run) cmd_run ;;
  lint) cmd_lint ;;
  test) cmd_test ;;
  build) cmd_build ;;
  windows) cmd_windows ;;
  fuzz) shift; cmd_fuzz "$@" ;;
  *) echo "usage: bash packaging/dev.sh run|test|build|lint|windows|fuzz [target]" >&2; exit 2 ;;
esac
