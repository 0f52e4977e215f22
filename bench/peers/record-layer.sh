#!/usr/bin/env bash
# The record layer's figures (bench/RESULTS.md "The record layer"): zoneproxy with
# `record_layer = false` (every session stays with OpenSSL, the same build's "before")
# and with `record_layer = true`, each against HAProxy and nginx through
# bench/peers/compare.sh (A B rounds), for both suites: idle memory, relay throughput and
# CPU per GB one direction and both, echo latency at 8 connections. JSON results go to
# bench/results/record-layer-{off,on}/, the commands and their printed medians to
# bench/results/record-layer.log. About 25 minutes on the 2-core machine.
#
# Usage: bench/peers/record-layer.sh
# Environment (defaults): ZP_ROUNDS (3), ZP_DURATION seconds per timed run (3),
#   ZP_IDLE_COUNT (1000), ZP_LATENCY_CONNECTIONS (8), ZP_PEERS ("haproxy nginx"), ZP_MODES ("off on"),
#   ZP_SCENARIOS ("idle throughput-one throughput-both latency"; also latency-pacedR: the
#   harness's --pace R, round trips per second per session on a fixed schedule), ZP_LOCK
#   (/tmp/zoneproxy-build.lock; empty = no lock), ZP_QUIET_BUDGET (seconds, default 300).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${ZP_ROUNDS:-3}
duration=${ZP_DURATION:-3}
idle_count=${ZP_IDLE_COUNT:-1000}
latency_connections=${ZP_LATENCY_CONNECTIONS:-8}  # issue 27's figure (the harness's default is 16)
read -r -a peers <<<"${ZP_PEERS:-haproxy nginx}"
read -r -a modes <<<"${ZP_MODES:-off on}"
read -r -a scenarios <<<"${ZP_SCENARIOS:-idle throughput-one throughput-both latency}"
suites=(ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256)
lock=${ZP_LOCK-/tmp/zoneproxy-build.lock}
[ -n "${ZP_QUIET_UNTIL:-}" ] || ZP_QUIET_UNTIL=$(($(date +%s) + ${ZP_QUIET_BUDGET:-300}))
export ZP_QUIET_UNTIL
log=$root/bench/results/record-layer.log

[ -x "$root/build/bin/zoneproxy-bench" ] || { echo "record-layer: error: build/bin/zoneproxy-bench not found" >&2; exit 2; }

run() {  # mode scenario suite peer
  local mode=$1 scenario=$2 suite=$3 peer=$4 args out=$root/bench/results/record-layer-$1
  case "$scenario" in
    throughput-one) args=(--scenario throughput --variant one -- --direction one --duration "$duration") ;;
    throughput-both) args=(--scenario throughput --variant both -- --direction both --duration "$duration") ;;
    latency) args=(--scenario latency -- --duration "$duration" --connections "$latency_connections") ;;
    latency-paced*)  # latency-pacedR: an open loop, R round trips per second per session
      args=(--scenario latency --variant "${scenario#latency-}" -- --duration "$duration"
        --connections "$latency_connections" --pace "${scenario#latency-paced}") ;;
    idle) args=(--scenario idle -- --count "$idle_count") ;;
    *) echo "record-layer: error: unknown scenario '$scenario'" >&2; exit 2 ;;
  esac
  mkdir -p "$out"
  echo "\$ ZP_RECORD_LAYER=$([ "$mode" = on ] && echo true || echo false) bench/peers/compare.sh --peer $peer" \
    "--suite $suite --rounds $rounds --out $out ${args[*]}" | tee -a "$log"
  local rc=0
  ZP_RECORD_LAYER=$([ "$mode" = on ] && echo true || echo false) \
    bash "$root/bench/peers/compare.sh" --peer "$peer" --suite "$suite" --rounds "$rounds" --out "$out" "${args[@]}" \
    2>>"$log.stderr" | tee -a "$log" || rc=$?
  [ "$rc" -le 1 ] || { echo "record-layer: error: compare.sh failed (see $log.stderr)" >&2; exit 2; }
}

{
  echo "# bench/peers/record-layer.sh at $(git -C "$root" rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# zoneproxy $(sha256sum "$root/build/bin/zoneproxy" | cut -c1-12)," \
    "zoneproxy-bench $(sha256sum "$root/build/bin/zoneproxy-bench" | cut -c1-12), nproc=$(nproc)"
} >>"$log"
for scenario in "${scenarios[@]}"; do
  for mode in "${modes[@]}"; do rm -f "$root/bench/results/record-layer-$mode/${scenario}"_*.json; done
  for suite in "${suites[@]}"; do
    for peer in "${peers[@]}"; do
      # Off and on back to back, each against the same peer: the ratio of the two is one
      # build on one machine state, and each has its own paired peer rounds.
      for mode in "${modes[@]}"; do
        if [ -n "$lock" ]; then exec 9>"$lock" && flock 9; fi  # no build during a measurement
        run "$mode" "$scenario" "$suite" "$peer"
        if [ -n "$lock" ]; then exec 9>&-; fi
      done
    done
  done
done
