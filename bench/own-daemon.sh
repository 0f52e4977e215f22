#!/usr/bin/env bash
# Runs zoneproxy-bench against a zoneproxy of its own: starts build/bin/zoneproxy on a
# temporary state dir and PKI, provisions it through zoneproxyctl (pinned), runs
# `zoneproxy-bench --target zoneproxy` with the ports, certificates and PID filled in and
# the rest of the arguments as given, prints the bench's JSON on stdout, and stops the
# daemon by its PID. Loopback only; bounded by the bench's own deadlines. The figures of
# RELIABILITY.md come from it, e.g.
#
#   bash bench/own-daemon.sh --scenario slowloris --count 8000 --duration 30
#   bash bench/own-daemon.sh --scenario chaos --rate 40 --duration 20
#
# ZP_RECORD_LAYER=false: the daemon keeps every session with OpenSSL (`record_layer`).
# ZP_DAEMON_SAMPLES=FILE: also sample the daemon's RSS (KiB), descriptors and live
# sessions every 10 s into FILE (the soak figure).
# ZP_IDLE_BESIDE=N and ZP_IDLE_HOLD=S: before the bench starts, open N idle paired
# sessions (a second zoneproxy-bench, `--scenario idle --hold S`: a checked round trip
# on each every 300 s, under the 900 s idle timeout) and wait until all N are live; the
# bench then runs beside them (make S outlast it: the samples stop when the bench ends,
# then the script waits for the hold to end). Their JSON goes to ZP_IDLE_JSON (default:
# stderr). The soak of issue 27: 5,000 held sessions while chaos churns, e.g.
#   ZP_DAEMON_SAMPLES=soak.txt ZP_IDLE_BESIDE=5000 ZP_IDLE_HOLD=7320 \
#     bash bench/own-daemon.sh --scenario chaos --rate 10 --duration 7200
# ZP_DAEMON_DURING="COMMAND": also run COMMAND (bash) beside the bench, with
# ZONEPROXY_CTL_PROXY/_CERT/_KEY set so zoneproxyctl reaches this daemon (e.g.
# bench/report/top-capture.sh, the README's zoneproxyctl top screenshot).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ZP_BIN_DIR:-$root/build/bin}
tmp=$(mktemp -d)
zp_pid=
idle=
cleanup() {
  [ -z "$idle" ] || kill -TERM "$idle" 2>/dev/null || true
  [ -z "$zp_pid" ] || { kill -TERM "$zp_pid" 2>/dev/null || true; wait "$zp_pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT

free_ports() {  # n: distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r prov_port ep_port ms_port <<<"$(free_ports 3)"
bash "$root/certs/make-pki.sh" "$tmp/pki" bench >/dev/null
printf 'record_layer = %s\n' "${ZP_RECORD_LAYER:-true}" >"$tmp/zoneproxy.toml"
"$bin/zoneproxy" run --state-dir "$tmp/state" --config "$tmp/zoneproxy.toml" --bind 127.0.0.1 --workers 2 \
  --provisioning-port "$prov_port" --log-level warn 2>"$tmp/zoneproxy.log" &
zp_pid=$!
for _ in $(seq 1 100); do
  [ -f "$tmp/state/identity/ecdsa.crt" ] && (exec 3<>"/dev/tcp/127.0.0.1/$prov_port") 2>/dev/null && break
  sleep 0.1
done
pin=$(openssl x509 -in "$tmp/state/identity/ecdsa.crt" -pubkey -noout | openssl pkey -pubin -outform der |
  sha256sum | cut -d' ' -f1)
# The attack comes from many sources at 16 connections each: the per-source limits stay
# at their defaults, and so do max_admitting (10000) and the anonymous 17488 limits.
"$bin/zoneproxyctl" --proxy "127.0.0.1:$prov_port" --pin "$pin" --token-file "$tmp/state/bootstrap-token" provision \
  --module-server-ca "$tmp/pki/ms-ca.crt" --zone-ca-cert "$tmp/pki/zone-ca.crt" --zone-ca-key "$tmp/pki/zone-ca.key" \
  --cn zoneproxy-bench --ip 127.0.0.1 --endpoint-port "$ep_port" --module-server-port "$ms_port" >/dev/null
# zoneproxyctl as the Module Server (mutual TLS)
ctl_mtls=(--proxy "127.0.0.1:$prov_port" --ca "$tmp/pki/zone-ca.crt" --cert "$tmp/pki/ms-client.crt"
  --key "$tmp/pki/ms-client.key")
live_sessions() {  # the daemon's live sessions from /v1/status; fails if it cannot say
  "$bin/zoneproxyctl" "${ctl_mtls[@]}" --json status 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"]["live"])' 2>/dev/null
}
sampler=
if [ -n "${ZP_DAEMON_SAMPLES:-}" ]; then
  (
    echo "seconds rss_kib fds sessions"
    start=$SECONDS
    while kill -0 "$zp_pid" 2>/dev/null; do
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/$zp_pid/status" 2>/dev/null || echo 0)
      fds=$(ls "/proc/$zp_pid/fd" 2>/dev/null | wc -l)
      live=$(live_sessions || echo -1)
      echo "$((SECONDS - start)) $rss $fds $live"
      sleep 10
    done
  ) >"$ZP_DAEMON_SAMPLES" &
  sampler=$!
fi
during=
if [ -n "${ZP_DAEMON_DURING:-}" ]; then
  ZONEPROXY_CTL_PROXY="127.0.0.1:$prov_port" ZONEPROXY_CTL_CERT="$tmp/pki/ms-client.crt" \
    ZONEPROXY_CTL_KEY="$tmp/pki/ms-client.key" PATH="$bin:$PATH" bash -c "$ZP_DAEMON_DURING" &
  during=$!
fi
if [ -n "${ZP_IDLE_BESIDE:-}" ]; then
  "$bin/zoneproxy-bench" --target zoneproxy --endpoint "127.0.0.1:$ep_port" --module-server "127.0.0.1:$ms_port" \
    --client-cert "$tmp/pki/ms-client.crt" --client-key "$tmp/pki/ms-client.key" --proxy-pid "$zp_pid" --json \
    --scenario idle --count "$ZP_IDLE_BESIDE" --hold "${ZP_IDLE_HOLD:?ZP_IDLE_HOLD: seconds to hold them}" \
    >"${ZP_IDLE_JSON:-/dev/stderr}" 2>"$tmp/idle.err" &
  idle=$!
  live=0
  for _ in $(seq 1 600); do
    live=$(live_sessions || echo 0)
    [ "$live" -lt "$ZP_IDLE_BESIDE" ] || break
    kill -0 "$idle" 2>/dev/null || break
    sleep 1
  done
  echo "own-daemon: $live idle sessions live beside the bench" >&2
  [ "$live" -ge "$ZP_IDLE_BESIDE" ] || { cat "$tmp/idle.err" >&2; echo "own-daemon: the idle sessions did not open" >&2; exit 1; }
fi
rc=0
"$bin/zoneproxy-bench" --target zoneproxy --endpoint "127.0.0.1:$ep_port" --module-server "127.0.0.1:$ms_port" \
  --control "127.0.0.1:$prov_port" --client-cert "$tmp/pki/ms-client.crt" --client-key "$tmp/pki/ms-client.key" \
  --proxy-pid "$zp_pid" --json "$@" || rc=$?
# The samples end with the bench, before the held sessions close.
[ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
if [ -n "$idle" ]; then
  wait "$idle" || rc=1
  tail -n 3 "$tmp/idle.err" >&2
fi
[ -z "$during" ] || wait "$during" || true
# Which relay carried the sessions: the record layer, or OpenSSL to the end.
"$bin/zoneproxyctl" "${ctl_mtls[@]}" metrics 2>/dev/null |
  awk '/^zoneproxy_sessions_paired_total / {p=$2} /^zoneproxy_sessions_record_layer_total / {r=$2}
       END {printf "own-daemon: %d sessions paired, %d handed to the record layer\n", p, r}' >&2 || true
exit "$rc"
