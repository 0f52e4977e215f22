#!/usr/bin/env bash
# Runs one zoneproxy-bench scenario against zoneproxy and against one TLS -> TLS
# forwarder (HAProxy, stunnel4 or nginx's stream module) alternately, A B A B, on
# 127.0.0.1, and prints per-figure medians and the ratio zoneproxy / peer.
#
# Everything runs from a temporary directory: a PKI (certs/make-pki.sh plus backend
# certificates), a zoneproxy state dir provisioned with zoneproxyctl on free ports (as
# packaging/dev.sh run does), and the peer's configuration rendered from
# bench/peers/*.in with the *same* certificate chain and key as zoneproxy's data plane.
# Every process this script starts is stopped by PID when it exits.
#
# Usage:
#   bench/peers/compare.sh --peer haproxy|stunnel|nginx|none --scenario S
#       [--suite SUITE] [--rounds N] [--out DIR] [--variant NAME] [--check] [--resume]
#       [-- extra zoneproxy-bench args, given to both targets]
#
#   --peer none      zoneproxy only (the pairing scenario has no forwarder equivalent)
#   --variant NAME   names the figure in the result files, e.g. "one" for
#                    throughput with "-- --direction one" (files: throughput-one_...)
#   --check          no harness: check that the peer forwards (openssl s_server as the
#                    backend, openssl s_client as the client) with the suite, and exit
#   --resume         resumption wherever a client offers it: the harness's clients offer
#                    their last ticket (zoneproxy-bench --resume), the peer runs with its
#                    default resumption (nginx, HAProxy only); without it nothing resumes
#   idle             zoneproxy and the peer are restarted before every round (fresh RSS)
#   --out DIR        where the JSON results go (default bench/results); one file per
#                    round and target: FIGURE_SUITE_PEER_rN_TARGET.json, the harness's
#                    JSON object plus a "compare" object (peer, round, figure, loadavg)
#
# Environment: ZP_RECORD_LAYER (true, the default, or false: zoneproxy's `record_layer`),
# ZP_LOG_LEVEL (the proxy's, default warn: no session log; info writes it,
# to a file), ZP_BIN_DIR (default build/bin), ZP_BENCH_TIMEOUT (seconds one harness
# run may take, default 300), ZP_PERF_DIR (if set: `perf record -g` of the process(es)
# under test during every run, to ZP_PERF_DIR/FIGURE_SUITE_PEER_rN_TARGET.perf.data;
# ZP_PERF_CALLGRAPH=dwarf for stacks through libraries without frame pointers),
# ZP_QUIET_WAIT (before each run, wait up to this many seconds, default 120, until the
# CPUs are >= 90 % idle for half a second: the machine is shared; the wait and the busy
# fraction seen are recorded in the JSON; ZP_QUIET_UNTIL, epoch seconds: no waiting
# after that time, so a run-all over a busy machine stays bounded).
# Exit status: 0 every run had zero errors, 1 some run reported errors, 2 bad usage or
# a set-up failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/bench/peers"
bin=${ZP_BIN_DIR:-$root/build/bin}
python=/usr/bin/python3

die() { echo "compare: error: $*" >&2; exit 2; }
note() { echo "compare: $*" >&2; }

usage() { sed -n '12,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

peer="" scenario="" suite=ECDHE-ECDSA-AES128-GCM-SHA256 rounds=3 out="$root/bench/results"
variant="" check=0 resume=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) peer=${2:?--peer needs a value}; shift 2 ;;
    --scenario) scenario=${2:?--scenario needs a value}; shift 2 ;;
    --suite) suite=${2:?--suite needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --variant) variant=${2:?--variant needs a value}; shift 2 ;;
    --check) check=1; shift ;;
    --resume) resume=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$peer" in haproxy|stunnel|nginx|none) ;; *) die "--peer must be haproxy, stunnel, nginx or none" ;; esac
case "$suite" in
  ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-AES256-GCM-SHA384) key_type=ecdsa ;;
  ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-AES256-GCM-SHA384) key_type=rsa ;;
  *) die "--suite must be one of ECDHE-{ECDSA,RSA}-AES{128-GCM-SHA256,256-GCM-SHA384}" ;;
esac
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[ "$resume" -eq 0 ] || [ "$peer" != stunnel ] || die "--resume: stunnel's configuration has no resuming variant"
if [ "$check" -eq 0 ]; then
  case "$scenario" in throughput|latency|handshakes|pairing|idle|churn) ;;
    *) die "--scenario must be throughput, latency, handshakes, pairing, idle or churn" ;; esac
  [ "$scenario" != pairing ] || [ "$peer" = none ] || die "pairing has no forwarder equivalent: use --peer none"
  [ -x "$bin/zoneproxy-bench" ] || die "$bin/zoneproxy-bench not found (build it: cmake --build build --target zoneproxy-bench)"
else
  [ "$peer" != none ] || die "--check needs a peer"
fi
[ -x "$bin/zoneproxy" ] || die "$bin/zoneproxy not found (build first)"
[ -x "$bin/zoneproxyctl" ] || die "$bin/zoneproxyctl not found (build first)"
command -v jq >/dev/null || die "jq not found (apt-get install jq)"
case "$peer" in
  haproxy) command -v haproxy >/dev/null || die "haproxy not found (bench/peers/install.sh)" ;;
  stunnel) command -v stunnel4 >/dev/null || die "stunnel4 not found (bench/peers/install.sh)" ;;
  nginx) [ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
    die "nginx with the stream module not found (bench/peers/install.sh)" ;;
esac
suite_tag=$key_type
[[ "$suite" == *AES256* ]] && suite_tag="$key_type-aes256"
figure=$scenario${variant:+-$variant}

# Every forwarded connection holds two descriptors in the forwarder and two in the
# harness: take the whole hard limit (20,000 here) for everything started below.
ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d /tmp/zp-compare.XXXXXX)
pids=()  # every process started here, stopped in reverse order on exit

# shellcheck disable=SC2317  # stop_pid and cleanup run from the EXIT trap
stop_pid() {  # pid: TERM, up to 5 s, then KILL; reaps it
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    # zoneproxy drains live sessions on the first SIGTERM; the second closes them
    [ "$i" -ne 10 ] || kill -TERM "$pid" 2>/dev/null || true
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() {  # n: prints n distinct free TCP ports on 127.0.0.1
  "$python" - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

wait_listening() {  # port pid what: until 127.0.0.1:port accepts (10 s)
  local i
  for i in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || die "$3 exited at start (see its output above)"
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$3 does not listen on 127.0.0.1:$1 after 10 s (i=$i)"
}

# --- PKI: make-pki.sh (Module Server CA + client, zone CA) and backend certificates ---
bash "$root/certs/make-pki.sh" "$tmp/pki" bench >/dev/null
make_backend_cert() {  # type: a server certificate for localhost/127.0.0.1, zone CA
  local t=$1
  if [ "$t" = ecdsa ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/pki/backend-$t.key" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/pki/backend-$t.key" 2>/dev/null
  fi
  openssl req -new -key "$tmp/pki/backend-$t.key" -subj "/O=zoneproxy bench/CN=localhost" \
    -out "$tmp/pki/backend-$t.csr" 2>/dev/null
  openssl x509 -req -in "$tmp/pki/backend-$t.csr" -CA "$tmp/pki/zone-ca.crt" -CAkey "$tmp/pki/zone-ca.key" \
    -CAcreateserial -days 30 -sha256 -out "$tmp/pki/backend-$t.crt" -extfile <(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1") 2>/dev/null
}
make_backend_cert "$key_type"
backend_cert=$tmp/pki/backend-$key_type.crt
backend_key=$tmp/pki/backend-$key_type.key

# --- zoneproxy, provisioned as packaging/dev.sh run does, on free ports ---
read -r prov_port ep_port ms_port peer_port backend_port middle_port <<<"$(free_ports 6)"
# ZP_RECORD_LAYER=false: zoneproxy relays through OpenSSL to the end (the same build's
# "before" of the record layer, README `record_layer`).
printf 'record_layer = %s\n' "${ZP_RECORD_LAYER:-true}" >"$tmp/zoneproxy.toml"
start_zoneproxy() {  # a restart on the same state dir comes back provisioned, same ports
  "$bin/zoneproxy" run --state-dir "$tmp/state" --config "$tmp/zoneproxy.toml" --bind 127.0.0.1 --workers 2 \
    --provisioning-port "$prov_port" --log-level "${ZP_LOG_LEVEL:-warn}" 2>>"$tmp/zoneproxy.log" &
  zp_pid=$!
  pids+=("$zp_pid")
  wait_listening "$prov_port" "$zp_pid" zoneproxy
}
start_zoneproxy
prov_addr=127.0.0.1:$prov_port
# Per-source limits: every harness connection comes from 127.0.0.1; the idle and pairing
# scenarios keep thousands of halves waiting at once, and the handshakes scenario with
# --connections 32 has 64 handshakes in flight.
pin=$(openssl x509 -in "$tmp/state/identity/ecdsa.crt" -pubkey -noout | openssl pkey -pubin -outform der |
  sha256sum | cut -d' ' -f1)
"$bin/zoneproxyctl" --proxy "$prov_addr" --pin "$pin" --token-file "$tmp/state/bootstrap-token" provision \
  --module-server-ca "$tmp/pki/ms-ca.crt" --zone-ca-cert "$tmp/pki/zone-ca.crt" \
  --zone-ca-key "$tmp/pki/zone-ca.key" --cn zoneproxy-bench --ip 127.0.0.1 --dns localhost \
  --endpoint-port "$ep_port" --module-server-port "$ms_port" \
  --set max_pending_per_source=100000 --set max_admitting_per_source=10000 >/dev/null ||
  die "provisioning zoneproxy failed (log: $tmp/zoneproxy.log)"
wait_listening "$ep_port" "$zp_pid" zoneproxy

# The peers serve zoneproxy's own data-plane chain and key for the suite's key type.
cert=$tmp/server-chain.pem
key=$tmp/server.key
jq -r ".certificates.$key_type" "$tmp/state/provisioned.json" >"$cert"
cp "$tmp/state/dataplane/$key_type.key" "$key"
cat "$cert" "$key" >"$tmp/server.pem"
chmod 600 "$key" "$tmp/server.pem"

# --- the peer ---
if [ "$resume" -eq 1 ]; then  # the peer's defaults
  resumption=(-e '/# @NO_RESUME@/d' -e 's| *@NO_TICKETS@||g' -e 's| *@NO_SSL_REUSE@||g')
else
  resumption=(-e 's| *# @NO_RESUME@||' -e 's|@NO_TICKETS@|no-tls-tickets|g' -e 's|@NO_SSL_REUSE@|no-ssl-reuse|g')
fi
render() {  # template output [sed expressions...]
  local in=$1 outf=$2
  shift 2
  sed -e "s|@LISTEN@|$peer_port|g" -e "s|@BACKEND@|$backend_port|g" -e "s|@MIDDLE@|$middle_port|g" \
    -e "s|@CERT@|$cert|g" -e "s|@KEY@|$key|g" -e "s|@BACKEND_CA@|$tmp/pki/zone-ca.crt|g" \
    -e "s|@CIPHERS@|$suite|g" -e "s|@CURVES@|X25519:P-256:P-384|g" -e "s|@TMP@|$tmp|g" \
    -e "s|@THREADS@|2|g" -e "s|@MAXCONN@|9500|g" -e "s|@NOFILE@|$(ulimit -Hn)|g" \
    -e "s|@WORKER_CONNECTIONS@|19000|g" "${resumption[@]}" "$@" "$in" >"$outf"
  if grep -q '@[A-Z_]*@' "$outf"; then
    grep '@[A-Z_]*@' "$outf" | grep -v '^;' && die "unrendered placeholder in $outf"
  fi
  return 0
}

peer_pids=""  # comma-separated: the processes that do the forwarding
peer_started=()  # what start_peer started, for stop_peer
start_peer() {
  peer_started=()
  case "$peer" in
    haproxy)
      render "$here/haproxy.cfg.in" "$tmp/haproxy.cfg"
      haproxy -c -q -f "$tmp/haproxy.cfg" || die "haproxy rejects $tmp/haproxy.cfg"
      haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/peer.log" 2>&1 &
      pids+=("$!")
      peer_started+=("$!")
      wait_listening "$peer_port" "$!" haproxy
      peer_pids=$!  # -db without -W: one process, nbthread threads
      ;;
    nginx)
      render "$here/nginx.conf.in" "$tmp/nginx.conf"
      /usr/sbin/nginx -t -q -p "$tmp" -e /dev/null -c "$tmp/nginx.conf" || die "nginx rejects $tmp/nginx.conf"
      /usr/sbin/nginx -p "$tmp" -e /dev/null -c "$tmp/nginx.conf" >"$tmp/peer.log" 2>&1 &
      local master=$!
      pids+=("$master")
      peer_started+=("$master")
      wait_listening "$peer_port" "$master" nginx
      local workers="" i
      for i in $(seq 1 50); do
        workers=$(pgrep -P "$master" | sort -n | paste -sd, -)
        [ "$(tr ',' '\n' <<<"$workers" | grep -c .)" -lt 2 ] || break
        sleep 0.1
      done
      [ -n "$workers" ] || die "nginx started no worker"
      peer_pids=$workers  # the workers do the work; the master holds no connection
      ;;
    stunnel)
      # two processes, each rendered with only its own service (see stunnel.conf.in)
      render "$here/stunnel.conf.in" "$tmp/stunnel-server.conf" -e 's|@ROLE@|server|g' \
        -e '/@CLIENT_BEGIN@/,/@CLIENT_END@/d'
      render "$here/stunnel.conf.in" "$tmp/stunnel-client.conf" -e 's|@ROLE@|client|g' \
        -e '/@SERVER_BEGIN@/,/@SERVER_END@/d'
      stunnel4 "$tmp/stunnel-client.conf" >"$tmp/peer-client.log" 2>&1 &
      pids+=("$!")
      peer_started+=("$!")
      local client=$!
      wait_listening "$middle_port" "$client" "stunnel (client side)"
      stunnel4 "$tmp/stunnel-server.conf" >"$tmp/peer-server.log" 2>&1 &
      pids+=("$!")
      peer_started+=("$!")
      wait_listening "$peer_port" "$!" "stunnel (server side)"
      peer_pids="$!,$client"
      ;;
    none) ;;
  esac
  return 0
}
stop_peer() {
  local i
  for ((i = ${#peer_started[@]} - 1; i >= 0; i--)); do stop_pid "${peer_started[i]}"; done
}
start_peer

if [ "$check" -eq 1 ]; then
  # Backend: openssl s_server answering each line reversed; client: openssl s_client.
  openssl s_server -accept "127.0.0.1:$backend_port" -cert "$backend_cert" -key "$backend_key" \
    -cipher "$suite" -tls1_2 -rev >"$tmp/backend.log" 2>&1 &
  pids+=("$!")
  wait_listening "$backend_port" "$!" "openssl s_server"
  sleep 0.5
  reply=$({ printf 'forwarded-by-%s\n' "$peer"; sleep 1; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$peer_port" -tls1_2 -cipher "$suite" -CAfile "$tmp/pki/zone-ca.crt" \
    -verify_return_error -verify_ip 127.0.0.1 2>&1 || true)
  want=$(printf 'forwarded-by-%s' "$peer" | rev)
  grep -q "^$want" <<<"$reply" || { echo "$reply" | tail -20 >&2; die "$peer did not forward (no '$want' came back)"; }
  grep -q "Cipher is $suite" <<<"$reply" || die "$peer negotiated another suite with the client"
  grep -q "Verify return code: 0" <<<"$reply" || die "the client did not verify $peer's certificate"
  # the backend offers only the suite, TLS 1.2 only: its answer proves the upstream used both
  echo "compare: $peer forwards TLS 1.2 $suite both ways (the client verified zoneproxy's chain, the backend answered; forwarding pids $peer_pids)"
  exit 0
fi

# --- rounds: A (zoneproxy) B (peer), A B, ... ---
mkdir -p "$out"
bench_timeout=${ZP_BENCH_TIMEOUT:-300}
common=(--scenario "$scenario" --suite "$suite" --ca "$tmp/pki/zone-ca.crt" --json "${extra[@]}")
[ "$resume" -eq 0 ] || common+=(--resume)
set_args() {  # after a (re)start: the PIDs under test
  zp_args=(--target zoneproxy --endpoint "127.0.0.1:$ep_port" --module-server "127.0.0.1:$ms_port"
    --client-cert "$tmp/pki/ms-client.crt" --client-key "$tmp/pki/ms-client.key"
    --proxy-pid "$zp_pid" --label zoneproxy)
  fw_args=(--target forward --connect "127.0.0.1:$peer_port" --backend-listen "127.0.0.1:$backend_port"
    --backend-cert "$backend_cert" --backend-key "$backend_key" --proxy-pid "$peer_pids" --label "$peer")
}
set_args

share_between() {  # line-a line-b "fields": their share of all CPU time between two /proc/stat "cpu" lines
  awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { n = split(a, x); split(b, y); t = 0; part = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]
    k = split(f, pick, " "); for (j = 1; j <= k; j++) part += y[pick[j]] - x[pick[j]]
    printf "%.6f", (t > 0 ? part / t : 0) }'
}

cpu_busy() {  # fraction of all CPUs busy over 0.5 s: all but idle (field 5) and iowait (6)
  local a b
  a=$(head -1 /proc/stat)
  sleep 0.5
  b=$(head -1 /proc/stat)
  awk -v idle="$(share_between "$a" "$b" "5 6")" 'BEGIN { printf "%.2f", 1 - idle }'
}

quiet_waited=0 busy=0
wait_quiet() {  # until the CPUs are >= 90 % idle, at most ZP_QUIET_WAIT s
  local start=$SECONDS limit=${ZP_QUIET_WAIT:-120} left
  if [ -n "${ZP_QUIET_UNTIL:-}" ]; then
    left=$((ZP_QUIET_UNTIL - $(date +%s)))
    [ "$left" -gt 0 ] || left=0
    [ "$left" -ge "$limit" ] || limit=$left
  fi
  while :; do
    busy=$(cpu_busy)
    awk -v b="$busy" 'BEGIN { exit !(b <= 0.10) }' && break
    [ $((SECONDS - start)) -lt "$limit" ] || { note "machine still busy ($busy) after ${limit}s, running anyway"; break; }
    sleep 1
  done
  quiet_waited=$((SECONDS - start))
}

status=0
run_one() {  # round who pids args...: one harness run, its JSON saved with a "compare" object
  local round=$1 who=$2 under_test=$3 rc=0 perf_pid=""
  shift 3
  local file="$out/${figure}_${suite_tag}_${peer}_r${round}_${who}.json"
  local load stat0 steal
  wait_quiet
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  stat0=$(head -1 /proc/stat)
  if [ -n "${ZP_PERF_DIR:-}" ]; then
    mkdir -p "$ZP_PERF_DIR"
    perf record -q -e cpu-clock -F 999 --call-graph "${ZP_PERF_CALLGRAPH:-fp}" -p "$under_test" \
      -o "$ZP_PERF_DIR/${figure}_${suite_tag}_${peer}_r${round}_${who}.perf.data" >/dev/null 2>&1 &
    perf_pid=$!
    pids+=("$perf_pid")
  fi
  timeout --kill-after=10 "$bench_timeout" "$bin/zoneproxy-bench" "$@" "${common[@]}" \
    >"$tmp/run.json" 2>"$tmp/run.err" || rc=$?
  # A VM's stolen time stalls every process at once: a round with much of it says more
  # about the host than about the proxies (the paced p99s in bench/RESULTS.md).
  steal=$(printf '%.3f' "$(share_between "$stat0" "$(head -1 /proc/stat)" 9)")  # field 9: steal
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    tail -5 "$tmp/run.err" >&2
    die "zoneproxy-bench ($who, round $round) exited $rc"
  fi
  jq -c --arg peer "$peer" --arg figure "$figure" --arg who "$who" --argjson round "$round" \
    --arg load "$load" --arg suite_tag "$suite_tag" --argjson busy "$busy" --argjson waited "$quiet_waited" \
    --argjson record_layer "${ZP_RECORD_LAYER:-true}" --argjson steal "$steal" \
    '. + {compare: {peer: $peer, figure: $figure, target_name: $who, round: $round, suite_tag: $suite_tag,
                    loadavg_before: $load, cpu_busy_before: $busy, quiet_wait_s: $waited,
                    cpu_steal_during: $steal, record_layer: $record_layer}}' \
    "$tmp/run.json" >"$file" || die "zoneproxy-bench ($who, round $round) printed no JSON object"
  local errors
  errors=$(jq '.errors' "$file")
  if [ "$rc" -eq 1 ] || [ "$errors" != 0 ]; then
    status=1
    note "$who round $round: $errors errors: $(jq -c '.error_samples[:3]' "$file")"
  fi
  note "$who round $round: $(jq -c '.metrics' "$file")"
}

for r in $(seq 1 "$rounds"); do
  if [ "$scenario" = idle ] && [ "$r" -gt 1 ]; then
    # RSS per session needs fresh processes each round: memory freed at the end of a
    # round stays in a process's heap and the next round would reuse it.
    stop_pid "$zp_pid"
    start_zoneproxy
    wait_listening "$ep_port" "$zp_pid" zoneproxy
    if [ "$peer" != none ]; then
      stop_peer
      start_peer
    fi
    set_args
  fi
  run_one "$r" zoneproxy "$zp_pid" "${zp_args[@]}"
  [ "$peer" = none ] || run_one "$r" "$peer" "$peer_pids" "${fw_args[@]}"
done

# --- medians and ratios ---
"$python" - "$out" "$figure" "$suite_tag" "$peer" "$rounds" <<'PY'
import json, statistics, sys
out, figure, suite_tag, peer, rounds = sys.argv[1:6]
def load(who):
    runs = []
    for r in range(1, int(rounds) + 1):
        with open(f"{out}/{figure}_{suite_tag}_{peer}_r{r}_{who}.json") as f:
            runs.append(json.load(f))
    return runs
zp = load("zoneproxy")
fw = load(peer) if peer != "none" else []
def medians(runs):
    keys = [k for k, v in runs[0]["metrics"].items() if isinstance(v, (int, float))]
    return {k: statistics.median(r["metrics"][k] for r in runs) for k in keys}
zm = medians(zp)
fm = medians(fw) if fw else {}
errs = sum(r["errors"] for r in zp + fw)
print(f"{figure} {zp[0]['suite']}, {rounds} rounds, medians, errors in all runs: {errs}")
print(f"{'figure':24} {'zoneproxy':>14} {peer if fw else '':>14} {'zoneproxy/peer' if fw else '':>15}")
for k, v in zm.items():
    if fw and k in fm:
        ratio = f"{v / fm[k]:.2f}x" if fm[k] else "-"
        print(f"{k:24} {v:14.6g} {fm[k]:14.6g} {ratio:>15}")
    else:
        print(f"{k:24} {v:14.6g}")
PY
exit "$status"
