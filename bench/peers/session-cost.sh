#!/usr/bin/env bash
# The re-measure of issue 24 (cheaper sessions), the section "CPU per new session" of
# bench/RESULTS.md: the proxy's own CPU per new session (from /proc: utime + stime of the
# process(es) under test over the run, divided by the sessions completed), side by side
# with nginx and HAProxy, in two configurations:
#   full     no resumption anywhere (nginx proxy_ssl_session_reuse off, no tickets, no
#            cache; HAProxy no-ssl-reuse, no-tls-tickets; the harness's clients never
#            offer a session);
#   resume   resumption wherever a client offers it (the peers at their defaults; the
#            harness's clients offer their last ticket: zoneproxy-bench --resume).
# Then, zoneproxy only, against a build of an older commit given as ZP_BEFORE_BIN (a
# directory holding its zoneproxy; this tree's zoneproxyctl and harness drive both),
# interleaved round by round: pairing p50/p99 at 2 workers and idle memory per paired
# session, the "no worse than before" figures.
#
# Usage: bench/peers/session-cost.sh            (results in bench/results/session-cost/)
# Environment: ZP_ROUNDS (3), ZP_DURATION (4 s per handshakes run), ZP_LOOPS (16 closed
#   loops), ZP_SUITES (the ECDSA and RSA AES128 suites), ZP_PEERS ("nginx haproxy"),
#   ZP_BEFORE_BIN (unset: the before/after part is skipped), ZP_BEFORE_NAME (what the
#   tables call it, e.g. its commit), ZP_PAIRS (1000),
#   ZP_IDLE_COUNT (1000), ZP_OUT (the results folder). About 10 minutes with the
#   defaults on the 2-core machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${ZP_OUT:-$root/bench/results/session-cost}
rounds=${ZP_ROUNDS:-3}
duration=${ZP_DURATION:-4}
loops=${ZP_LOOPS:-16}
pairs=${ZP_PAIRS:-1000}
idle_count=${ZP_IDLE_COUNT:-1000}
read -r -a suites <<<"${ZP_SUITES:-ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256}"
read -r -a peers <<<"${ZP_PEERS:-nginx haproxy}"
mkdir -p "$out"
rm -f "$out"/*.json
log=$out/session-cost.log
: >"$log"

compare() {  # compare.sh arguments; the build lock keeps builds off the measurement
  echo "\$ bench/peers/compare.sh $*" | tee -a "$log"
  echo "# zoneproxy $(sha256sum "${ZP_BIN_DIR:-$root/build/bin}/zoneproxy" | cut -c1-12), $(date -u +%H:%M:%SZ)" >>"$log"
  flock /tmp/zoneproxy-build.lock bash "$root/bench/peers/compare.sh" "$@" 2>>"$log.stderr" | tee -a "$log" ||
    echo "session-cost: compare.sh reported errors or failed (see $log.stderr)" | tee -a "$log"
}

for suite in "${suites[@]}"; do
  for peer in "${peers[@]}"; do
    compare --peer "$peer" --suite "$suite" --rounds "$rounds" --out "$out" --scenario handshakes --variant full \
      -- --duration "$duration" --connections "$loops"
    compare --peer "$peer" --suite "$suite" --rounds "$rounds" --out "$out" --scenario handshakes --variant resume \
      --resume -- --duration "$duration" --connections "$loops"
  done
done

if [ -n "${ZP_BEFORE_BIN:-}" ]; then
  # The older zoneproxy with this tree's zoneproxyctl and harness, so only the proxy differs.
  before=$(mktemp -d)
  trap 'rm -rf "$before"' EXIT
  cp "$ZP_BEFORE_BIN/zoneproxy" "$before/"
  cp "$root/build/bin/zoneproxyctl" "$root/build/bin/zoneproxy-bench" "$before/"
  echo "${ZP_BEFORE_NAME:-before}" >"$out/before-name.txt"
  suite=${suites[0]}
  for r in $(seq 1 "$rounds"); do
    for who in before after; do
      dir=$root/build/bin
      [ "$who" = after ] || dir=$before
      ZP_BIN_DIR=$dir compare --peer none --suite "$suite" --rounds 1 --out "$out/$who-r$r" --scenario pairing \
        -- --count "$pairs"
      ZP_BIN_DIR=$dir compare --peer none --suite "$suite" --rounds 1 --out "$out/$who-r$r" --scenario idle \
        -- --count "$idle_count"
      ZP_BIN_DIR=$dir compare --peer none --suite "$suite" --rounds 1 --out "$out/$who-r$r" --scenario handshakes \
        --variant full -- --duration "$duration" --connections "$loops"
      ZP_BIN_DIR=$dir compare --peer none --suite "$suite" --rounds 1 --out "$out/$who-r$r" --scenario handshakes \
        --variant resume --resume -- --duration "$duration" --connections "$loops"
    done
  done
fi
echo "session-cost: done; results in $out (log: $log)"
