#!/usr/bin/env bash
# The full comparison behind bench/RESULTS.md: every scenario x every peer (HAProxy,
# stunnel4, nginx) x both suites, through bench/peers/compare.sh (A B rounds), plus
# pairing (zoneproxy only). JSON results go to bench/results/ (old ones of the same
# scenarios are removed first), the commands and their printed medians to bench/results/run-all.log.
# About 20-25 minutes on the 2-core machine with the defaults.
#
# Usage: bench/peers/run-all.sh
# It takes the build lock once per scenario (both suites, every peer: a few minutes),
# so a build never overlaps a measurement and waits at most one scenario.
# Environment (defaults): ZP_ROUNDS (3), ZP_DURATION seconds per timed run (3),
#   ZP_IDLE_COUNT sessions in the idle scenario (1000), ZP_PAIRS pairs in the pairing
#   scenario (1000), ZP_PEERS ("haproxy stunnel nginx"), ZP_SUITES (both AES128 suites),
#   ZP_SCENARIOS ("throughput-one throughput-both latency handshakes idle churn pairing"),
#   ZP_LOCK (/tmp/zoneproxy-build.lock; empty = no lock), ZP_QUIET_BUDGET (seconds, default
#   300: how long, in all, compare.sh may wait for a quiet machine before its runs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$root/bench/results
rounds=${ZP_ROUNDS:-3}
duration=${ZP_DURATION:-3}
idle_count=${ZP_IDLE_COUNT:-1000}
pairs=${ZP_PAIRS:-1000}
read -r -a peers <<<"${ZP_PEERS:-haproxy stunnel nginx}"
read -r -a suites <<<"${ZP_SUITES:-ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256}"
read -r -a scenarios <<<"${ZP_SCENARIOS:-throughput-one throughput-both latency handshakes idle churn pairing}"
lock=${ZP_LOCK-/tmp/zoneproxy-build.lock}
[ -n "${ZP_QUIET_UNTIL:-}" ] || ZP_QUIET_UNTIL=$(($(date +%s) + ${ZP_QUIET_BUDGET:-300}))
export ZP_QUIET_UNTIL

[ -x "$root/build/bin/zoneproxy-bench" ] || { echo "run-all: error: build/bin/zoneproxy-bench not found" >&2; exit 2; }
log=$out/run-all.log

compare() {  # compare.sh arguments
  echo "\$ bench/peers/compare.sh $*" | tee -a "$log"
  echo "# zoneproxy-bench sha256 $(sha256sum "$root/build/bin/zoneproxy-bench" | cut -c1-12), zoneproxy $(sha256sum "$root/build/bin/zoneproxy" | cut -c1-12), $(date -u +%H:%M:%SZ)" >>"$log"
  local rc=0
  bash "$root/bench/peers/compare.sh" "$@" 2>>"$log.stderr" | tee -a "$log" || rc=$?
  [ "$rc" -le 1 ] || { echo "run-all: error: compare.sh failed (see $log.stderr)" >&2; exit 2; }
  [ "$rc" -eq 0 ] || echo "run-all: compare.sh exit $rc (errors reported)" | tee -a "$log"
  return "$rc"
}

one_scenario() {  # scenario: both suites x every peer
  local scenario=$1 suite peer failed=0 args
  for suite in "${suites[@]}"; do
    case "$scenario" in
      throughput-one) args=(--scenario throughput --variant one -- --direction one --duration "$duration") ;;
      throughput-both) args=(--scenario throughput --variant both -- --direction both --duration "$duration") ;;
      latency|handshakes|churn) args=(--scenario "$scenario" -- --duration "$duration") ;;
      idle) args=(--scenario idle -- --count "$idle_count") ;;
      pairing)
        compare --peer none --suite "$suite" --rounds "$rounds" --out "$out" --scenario pairing -- --count "$pairs" || failed=1
        continue ;;
      *) echo "run-all: error: unknown scenario '$scenario'" >&2; exit 2 ;;
    esac
    for peer in "${peers[@]}"; do
      compare --peer "$peer" --suite "$suite" --rounds "$rounds" --out "$out" "${args[@]}" || failed=1
    done
  done
  return "$failed"
}

if [ "${1:-}" = --one-scenario ]; then  # internal: one scenario, already under the lock
  one_scenario "$2"
  exit $?
fi

mkdir -p "$out"
for scenario in "${scenarios[@]}"; do rm -f "$out/${scenario}"_*.json; done
rm -f "$log.stderr"
started=$SECONDS
{
  echo "# bench/peers/run-all.sh at $(git -C "$root" rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# nproc=$(nproc) kernel=$(uname -r) $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3)," \
    "$(stunnel4 -version 2>&1 | grep -m1 '^stunnel' | cut -d' ' -f1-2), $(/usr/sbin/nginx -v 2>&1)," \
    "$(openssl version)"
  echo "# ZP_ROUNDS=$rounds ZP_DURATION=$duration ZP_IDLE_COUNT=$idle_count ZP_PAIRS=$pairs"
} >>"$log"

failed=0
for scenario in "${scenarios[@]}"; do
  cmd=(bash "${BASH_SOURCE[0]}" --one-scenario "$scenario")
  [ -z "$lock" ] || cmd=(flock "$lock" "${cmd[@]}")
  rc=0
  "${cmd[@]}" || rc=$?
  [ "$rc" -le 1 ] || exit "$rc"
  [ "$rc" -eq 0 ] || failed=1
done
echo "# done in $((SECONDS - started)) s, errors: $([ "$failed" -eq 0 ] && echo none || echo some)" | tee -a "$log"
exit "$failed"
