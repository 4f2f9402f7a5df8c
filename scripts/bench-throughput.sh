#!/usr/bin/env bash
# redline's live throughput against redis-benchmark on the same machine, in one run (issue #22):
#   1. redis-benchmark -t sadd,set,get -c 10 against a plain server of the same build (no
#      replicas, no proxy): the peer figures;
#   2. redline, fault-free, --concurrency 10, local backend, for SECONDS each: the set workload
#      (default mix: one read in ten, bounded sets) and the register workload with master reads;
#   3. examples/proxy_overhead: redis-benchmark SADD through redline's proxy against direct, on
#      a cluster with proxies (as runs with partition or delay faults have them), and through
#      HAProxy in front of the same node when `haproxy` is installed: a peer relay measured
#      beside it (what any user-space proxy costs on this machine).
# Each figure is printed with the load average at the time; figures taken on a busy machine
# understate what redline (and the peer) can do. The ratios are checked against issue #22's
# targets: set >= 0.5x SADD, register >= 0.5x mean(SET, GET), proxied >= 0.75x direct.
# Exit 0 when every target is met, 1 otherwise.
# Usage: scripts/bench-throughput.sh [seconds-per-redline-run]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
server=${REDLINE_REDIS_SERVER:-$(command -v redis-server)}
cargo build --release --quiet --bin redline --example proxy_overhead

dir=$(mktemp -d)
store=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir" "$store"
}
trap cleanup EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
meets() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$1" "$2"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no >/dev/null &
pid=$!
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "== redis-benchmark -t sadd,set,get -c 10 -n 300000 on $("$server" --version | cut -d' ' -f1-3) (load $(load))"
bench=$(redis-benchmark -p "$port" -t sadd,set,get -c 10 -n 300000 -q | tr '\r' '\n' | grep 'requests per second')
echo "$bench" | sed 's/^/  /'
rps() { echo "$bench" | awk -v t="$1:" '$1 == t {print $2}'; }
sadd=$(rps SADD) set=$(rps SET) get=$(rps GET)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

# ok ops/s of one fault-free redline run (its availability checker's figure) and its verdict.
redline_run() {
  target/release/redline test --server-bin "$server" --nemesis none --concurrency 10 \
    --time-limit "$secs" --store "$store" --json "$@" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); a=r["checkers"]["availability"]["stats"]; print(round(a["throughput_ok_per_s"]), r["valid"], a.get("keys"))'
}
failed=0
echo "== redline test --workload set --nemesis none --concurrency 10 --time-limit $secs (load $(load))"
read -r set_ops set_valid set_keys < <(redline_run --workload set)
r=$(ratio "$set_ops" "$sadd")
echo "  ok ops/s $set_ops (verdict $set_valid, $set_keys keys): ${r}x SADD (target 0.5) (load $(load))"
meets "$r" 0.5 || failed=1

echo "== redline test --workload register --read-from master --nemesis none --concurrency 10 --time-limit $secs (load $(load))"
read -r reg_ops reg_valid reg_keys < <(redline_run --workload register --read-from master)
setget=$(python3 -c "import sys; print((float(sys.argv[1]) + float(sys.argv[2])) / 2)" "$set" "$get")
r=$(ratio "$reg_ops" "$setget")
echo "  ok ops/s $reg_ops (verdict $reg_valid, $reg_keys keys): ${r}x mean(SET, GET) $setget (target 0.5) (load $(load))"
meets "$r" 0.5 || failed=1

echo "== redis-benchmark -t sadd -c 10 through redline's proxy vs direct (load $(load))"
proxy=$(REDLINE_REDIS_SERVER="$server" target/release/examples/proxy_overhead 300000 10 sadd)
echo "$proxy" | sed 's/^/  /'
r=$(echo "$proxy" | awk '$1 == "ratio" {print $2}')
echo "  proxied/direct ${r} (target 0.75) (load $(load))"
meets "$r" 0.75 || failed=1

[ "$failed" = 0 ] && echo "== every target met" || echo "== a target was missed (see the load averages above)"
exit "$failed"
