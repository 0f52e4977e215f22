#!/usr/bin/env bash
# Captures `zoneproxyctl top` as a terminal shows it, under load, into a PNG: run it
# beside a bench against the proxy (ZONEPROXY_CTL_* name the proxy and certificate):
#
#   ZP_DAEMON_DURING="bash bench/report/top-capture.sh bench/report/zoneproxyctl-top.png" \
#     bash bench/own-daemon.sh --scenario chaos --rate 40 --duration 30
#
# tmux runs top in a detached 100x32 terminal; after a few refreshes the pane is
# captured as text and drawn in a monospace font (bench/report/text_png.py).
set -euo pipefail
out=${1:?usage: top-capture.sh OUT.png}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
session=zp-top-$$
text=$(mktemp)
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -f "$text"' EXIT
sleep "${ZP_TOP_AFTER:-12}"  # let the load build up
tmux new-session -d -s "$session" -x 100 -y 32 "zoneproxyctl top --interval 1"
sleep 5
tmux capture-pane -p -t "$session" >"$text"
/usr/bin/python3 "$root/bench/report/text_png.py" "$text" "$out"
echo "top-capture: wrote $out" >&2
