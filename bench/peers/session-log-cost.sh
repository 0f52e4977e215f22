#!/usr/bin/env bash
# What the session log costs (issue 25, bench/RESULTS.md "Session log"): the handshakes
# scenario with the proxy at log level info (a paired and an ended line per session, to a
# file) and at warn (neither), interleaved round by round on one build, with and without
# resumption. The figures are sessions per second and the proxy's CPU per session.
#
# Usage: bench/peers/session-log-cost.sh            (results in bench/results/session-log-cost/)
# Environment: ZP_ROUNDS (3), ZP_DURATION (4 s per run), ZP_LOOPS (16), ZP_OUT.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${ZP_OUT:-$root/bench/results/session-log-cost}
rounds=${ZP_ROUNDS:-3}
mkdir -p "$out"
rm -rf "${out:?}"/*
for r in $(seq 1 "$rounds"); do
  for variant in full resume; do
    extra=()
    [ "$variant" = full ] || extra=(--resume)
    for level in info warn; do
      ZP_LOG_LEVEL=$level flock /tmp/zoneproxy-build.lock bash "$root/bench/peers/compare.sh" --peer none \
        --rounds 1 --out "$out/$level-r$r" --scenario handshakes --variant "$variant" "${extra[@]}" \
        -- --duration "${ZP_DURATION:-4}" --connections "${ZP_LOOPS:-16}" >/dev/null 2>>"$out/stderr.log"
    done
  done
done
python3 - "$out" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
print("| configuration | figure | session log on (info) | off (warn) | on / off (per-round range) |")
print("|---|---|---:|---:|---:|")
for variant in ("full", "resume"):
    for metric, label in (("sessions_per_s", "sessions/s"), ("proxy_cpu_us_per_session", "proxy CPU per session (us)")):
        on, off, ratios = [], [], []
        for d in sorted(glob.glob(os.path.join(out, "info-r*"))):
            r = d.rsplit("-r", 1)[1]
            a = glob.glob(os.path.join(d, f"handshakes-{variant}_*_zoneproxy.json"))
            b = glob.glob(os.path.join(out, f"warn-r{r}", f"handshakes-{variant}_*_zoneproxy.json"))
            if not a or not b:
                continue
            x = json.load(open(a[0]))["metrics"][metric]
            y = json.load(open(b[0]))["metrics"][metric]
            on.append(x); off.append(y); ratios.append(x / y)
        if ratios:
            print(f"| {variant} | {label} | {statistics.median(on):,.0f} | {statistics.median(off):,.0f} | "
                  f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")
PY
