#!/usr/bin/env bash
# The Windows executables under Wine: the Wine stage of `bash packaging/dev.sh test`.
#
#   zoneproxy.exe --version; check-config on a good and a bad file (exit 0 and 2);
#   the black-box suites (sessions, control API, hostile tier, ...) against zoneproxy.exe;
#   WineService.*: zoneproxy.exe service install/run/uninstall under Wine's service manager;
#   the MSI (build-windows/zoneproxy-*-x64.msi): its tables, msiexec /i and /x;
#   WineCtl.*:     zoneproxyctl.exe against the Linux daemon.
#
# Needs build-windows/bin/*.exe (bash packaging/dev.sh windows) and the Linux build
# (build/bin/wine_test, zoneproxy, zoneproxyctl). On a failure the daemon's Wine-side log
# is printed by the test. WINEPREFIX defaults to a folder in build-windows/.
set -euo pipefail
trap 'echo "wine: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
wine=/usr/lib/wine/wine64
exe=build-windows/bin
export WINEPREFIX=${WINEPREFIX:-$root/build-windows/wineprefix}
export WINEDEBUG=${WINEDEBUG:--all}
# No desktop, no Mono/Gecko installers: console programs only.
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
check() {  # description command...
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "  ok: $what"
  else
    echo "wine: FAILED: $what" >&2
    exit 1
  fi
}

# One wineserver for the whole stage, started here with Wine's own services (winedevice)
# on /dev/null: left alone, the server exits a few seconds after its last client, and a
# daemon started in that instant dies with "wine client error: recvmsg"; and services
# started by a later command would hold that command's output pipe open. This prefix's
# server only: one left by an earlier run ends first. The first start of a prefix also
# creates it (10-15 s), here rather than inside a test's timeout.
started=$SECONDS
/usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
/usr/lib/wine/wineserver -w >/dev/null 2>&1 || true
mkdir -p "$WINEPREFIX"  # the server runs in it; wineboot below fills a new one
/usr/lib/wine/wineserver -p >/dev/null 2>&1 || { echo "wine: wineserver did not start in $WINEPREFIX" >&2; exit 1; }
trap 'rm -rf "$work"; /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true' EXIT
# Services (and zoneproxy.exe as one) write their stderr here, with +eventlog: Wine keeps
# no Event Log, but traces each event a service reports, so the tests can read them.
service_log=$root/build-windows/wine-services.log
: >"$service_log"
WINEDEBUG=-all,+eventlog "$wine" wineboot --init >>"$service_log" 2>&1 || true
echo "wine: prefix $WINEPREFIX ready ($((SECONDS - started)) s)"

version=$(sed -n 's/^project(zoneproxy VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
out=$(timeout 120 "$wine" "$exe/zoneproxy.exe" --version 2>&1 | tr -d '\r')
check "zoneproxy.exe --version says $version" test "$out" = "zoneproxy $version"
out=$(timeout 120 "$wine" "$exe/zoneproxyctl.exe" --help 2>&1 | tr -d '\r')
check "zoneproxyctl.exe --help" grep -q "status" <<<"$out"

printf 'log_level = "debug"\ndrain_timeout_s = 5\n' >"$work/good.toml"
status=0
out=$(timeout 120 "$wine" "$exe/zoneproxy.exe" check-config --config "$work/good.toml" 2>&1 | tr -d '\r') || status=$?
check "check-config on a good file exits 0 ($out)" test "$status" -eq 0
printf 'log_level = "loud"\n' >"$work/bad.toml"
status=0
out=$(timeout 120 "$wine" "$exe/zoneproxy.exe" check-config --config "$work/bad.toml" 2>&1 | tr -d '\r') || status=$?
check "check-config on a bad file exits 2" test "$status" -eq 2
check "the error names the field ($out)" grep -q "log_level" <<<"$out"

# One test suite, two daemons: these binaries run under ctest against build/bin/zoneproxy
# and here, unchanged, against zoneproxy.exe (ZP_TEST_DAEMON). What each covers:
#   sessions_test      pairing in both orders, early data, half-close, 16 MiB each way,
#                      backpressure with a slow reader, idle timeout, 100 concurrent
#                      sessions with checksums, revoke, /metrics, drain on stop;
#   api_test           the control API: settings live, revoke on both ports, rotation,
#                      kill, deprovision; trust_cas_test: PUT /v1/trust/cas;
#                      key_rotation_test: new keys, the directory swap and its crash points;
#   admission_test     per-source, global and pending limits, early data bounds;
#   session_tickets_test  resumption on all three ports, judged like a full handshake
#                      (revoked, expired, CA replaced, restart), on the Windows build's
#                      OpenSSL; api_client_test: zoneproxyctl's client resumes;
#   records_test       bad records after the hand-off to the record layer, each answered
#                      with its fatal alert and both sides closed;
#   the rest           durability across restarts, observers, metrics (promtool, a real
#                      Prometheus), config errors, first start, the packaged configs,
#                      zoneproxyctl and top, trust edges, PROXY v2, the anonymous 17488.
# Left out, and why:
#   Admission.AWaitingHalfWithFullEarlyDataThatClosesLeavesTheTableAtOnce: Wine's WSAPoll
#     does not report a FIN that arrives behind unread data (a reset it does: the test
#     beside it runs); such a half leaves at the pairing timeout instead;
#   Admission.WithDescriptorsNearlyExhausted...: Windows has no descriptor limit (and the
#     test sets one with Linux's prlimit);
#   FirstStart.CreatesStateDirKeysAndTokenWithPrivateModes, BadStateDir.*: they check and
#     open up POSIX modes; zoneproxy.exe checks ACLs, which Wine makes up from those modes
#     (the Administrators ACE becomes the group bits, and group bits no ACE);
#   not run at all: reload_test (SIGHUP; a Windows service reloads by restarting),
#     log_test (journald and terminals), service_notifier_test (systemd's notify socket;
#     the Windows service manager is WineService.* below), kill9_test (SIGKILL between
#     two writes, timed to the Linux daemon's log), stop_request_test and the in-process
#     suites (they link the daemon, they do not start it).
suites=(
  "sessions_test:*"
  "api_test:*"
  "trust_cas_test:*"
  "key_rotation_test:*"
  "admission_test:-Admission.AWaitingHalfWithFullEarlyDataThatClosesLeavesTheTableAtOnce:Admission.WithDescriptorsNearlyExhausted*"
  "trust_edges_test:*"
  "proxy_protocol_test:*"
  "operator_port_test:*"
  "durability_test:*"
  "observer_test:*"
  "metrics_test:*"
  "metrics_listen_test:*"
  "config_test:*"
  "first_start_test:-FirstStart.CreatesStateDirKeysAndTokenWithPrivateModes:BadStateDir.*"
  "packaged_config_test:*"
  "ctl_test:*"
  "top_test:*"
  "session_tickets_test:*"
  "records_test:*"
  "api_client_test:*"
)
for entry in "${suites[@]}"; do
  t0=$SECONDS
  ZP_TEST_DAEMON="$wine $root/$exe/zoneproxy.exe" timeout 900 "build/bin/${entry%%:*}" --gtest_filter="${entry#*:}" \
    --gtest_brief=1 >"$work/suite.log" 2>&1 || { cat "$work/suite.log" >&2; echo "wine: FAILED: ${entry%%:*}" >&2; exit 1; }
  echo "  ok: ${entry%%:*} against zoneproxy.exe: $(grep -o 'PASSED.*' "$work/suite.log" | tail -n 1) ($((SECONDS - t0)) s)"
  passed=$((passed + 1))
done
echo "wine: zoneproxy.exe as a service under Wine's service manager (WineService.*)"
ZP_TEST_DAEMON="$wine $root/$exe/zoneproxy.exe" ZP_TEST_SERVICE_LOG="$service_log" timeout 900 build/bin/wine_test \
  --gtest_filter='WineService.*' --gtest_brief=1
passed=$((passed + 1))

echo "wine: the MSI, installed and removed with msiexec"
msi=$(ls build-windows/zoneproxy-"$version"-x64.msi)
actions=$(msiinfo export "$msi" CustomAction)
sequence=$(msiinfo export "$msi" InstallExecuteSequence)
# 3090 = exe from an installed file (18) + deferred (1024) + no impersonation (2048).
check "MSI registers the service (deferred, elevated)" grep -qF $'RegisterService\t3090\tzoneproxy.exe\tservice install' <<<"$actions"
check "MSI unregisters on uninstall" grep -qF $'UnregisterService\t3154\tzoneproxy.exe\tservice uninstall' <<<"$actions"
check "MSI removes older versions first" grep -qF $'RemoveExistingProducts\t\t1401' <<<"$sequence"
check "MSI installs to Program Files" grep -qF ProgramFiles64Folder <<<"$(msiinfo export "$msi" Directory)"
programdata=$WINEPREFIX/drive_c/ProgramData/zoneproxy
installdir="$WINEPREFIX/drive_c/Program Files/zoneproxy"
rm -rf "$programdata"
status=0
out=$(timeout 300 "$wine" msiexec /i "$root/$msi" /qn 2>&1 | tr -d '\r') || status=$?
[ "$status" -eq 0 ] || echo "$out" >&2
check "msiexec /i exits 0" test "$status" -eq 0
for f in zoneproxy.exe zoneproxyctl.exe zoneproxy.toml README.md; do
  check "installed $f" test -f "$installdir/$f"
done
check "the installed exe is the one built" cmp -s "$installdir/zoneproxy.exe" "$exe/zoneproxy.exe"
key=$(timeout 60 "$wine" reg query 'HKLM\System\CurrentControlSet\Services\zoneproxy' 2>&1 | tr -d '\r') || true
check "service registered on the installed exe" grep -qF '"C:\Program Files\zoneproxy\zoneproxy.exe" service run' <<<"$key"
check "service starts automatically" grep -qE 'Start +REG_DWORD +0x2' <<<"$key"
sc_query() {  # Wine's sc.exe sometimes fails silently on a prefix's first commands: asked again
  local out i
  for i in 1 2 3 4 5; do
    out=$(timeout 60 "$wine" sc query zoneproxy 2>&1 | tr -d '\r') && { echo "$out"; return 0; }
    sleep 0.5
  done
  return 1
}
check "service not started by the install" grep -qE 'STATE +: 1 +STOPPED' <<<"$(sc_query)"
check "the default config copied to ProgramData" cmp -s "$programdata/zoneproxy.toml" packaging/windows/zoneproxy.toml
check "the state directory made" test -d "$programdata/state"
status=0
out=$(timeout 300 "$wine" msiexec /x "$root/$msi" /qn 2>&1 | tr -d '\r') || status=$?
[ "$status" -eq 0 ] || echo "$out" >&2
check "msiexec /x exits 0" test "$status" -eq 0
check "uninstall removed the files" test ! -e "$installdir/zoneproxy.exe"
check "uninstall removed the service" sh -c "! timeout 60 '$wine' reg query 'HKLM\System\CurrentControlSet\Services\zoneproxy' >/dev/null 2>&1"
check "uninstall kept ProgramData\\zoneproxy" test -f "$programdata/zoneproxy.toml"

echo "wine: zoneproxyctl.exe against the Linux daemon (WineCtl.*)"
env -u ZP_TEST_DAEMON ZP_TEST_CTL="$wine $root/$exe/zoneproxyctl.exe" timeout 600 build/bin/wine_test --gtest_filter='WineCtl.*' \
  --gtest_brief=1
passed=$((passed + 1))
echo "wine: $passed checks passed"
