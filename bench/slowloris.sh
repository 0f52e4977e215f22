#!/usr/bin/env bash
# The slowloris figure of RELIABILITY.md: starts a zoneproxy of its own (build/bin, a
# temporary state dir and PKI, provisioned through zoneproxyctl), runs
# `zoneproxy-bench --scenario slowloris` against it (a baseline phase, then the same with
# COUNT slow connections held on 17486, 17487 and 17488), prints the bench's JSON on
# stdout, and stops the daemon by its PID. Loopback only; bounded by the bench's own
# deadlines.
#
#   bash bench/slowloris.sh [COUNT=8000] [SECONDS_PER_PHASE=30]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ZP_BIN_DIR:-$root/build/bin}
count=${1:-8000}
seconds=${2:-30}
tmp=$(mktemp -d)
zp_pid=
cleanup() {
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
"$bin/zoneproxy" run --state-dir "$tmp/state" --bind 127.0.0.1 --workers 2 --provisioning-port "$prov_port" \
  --log-level warn 2>"$tmp/zoneproxy.log" &
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
"$bin/zoneproxy-bench" --target zoneproxy --scenario slowloris --count "$count" --duration "$seconds" \
  --endpoint "127.0.0.1:$ep_port" --module-server "127.0.0.1:$ms_port" --control "127.0.0.1:$prov_port" \
  --client-cert "$tmp/pki/ms-client.crt" --client-key "$tmp/pki/ms-client.key" --proxy-pid "$zp_pid" --json
