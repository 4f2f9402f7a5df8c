#!/usr/bin/env bash
# Workload throughput against the peer, on the same machine in one run:
#   1. redis-benchmark -t sadd -c 10 -n 200000 against a plain redis-server (no replicas, no proxy);
#   2. redis-benchmark directly against a redline cluster's master and through its proxy;
#   3. redline's set workload (concurrency 10, no faults): pure SADD (--read-ratio 0) and the
#      default mix (one whole-set read in ten).
# Usage: scripts/bench-throughput.sh [seconds-per-redline-run]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release --quiet --bin redline --example proxy_overhead

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir" "$store"' EXIT
store=$(mktemp -d)
sleep 0.5
echo "== redis-benchmark -t sadd -c 10 -n 200000, plain redis-server"
redis-benchmark -p "$port" -t sadd -c 10 -n 200000 -q | tr '\r' '\n' | grep -v '^\s*$' | tail -1
kill $pid; wait $pid 2>/dev/null || true

echo "== the same against a redline cluster: direct vs through the proxy"
target/release/examples/proxy_overhead 200000 10

for ratio in 0 0.1; do
  echo "== redline test --workload set --nemesis none --concurrency 10 --read-ratio $ratio --time-limit $secs"
  target/release/redline test --workload set --nemesis none --concurrency 10 --read-ratio "$ratio" \
    --time-limit "$secs" --store "$store" --json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); a=r["checkers"]["availability"]["stats"]; l=r["checkers"]["lost-writes"]["stats"]; print("  ok ops/s:", round(a["throughput_ok_per_s"]), " adds acknowledged:", l["acknowledged"], " p50/p99 add latency ms:", a["latency_ms"]["add"]["p50"], a["latency_ms"]["add"]["p99"], " verdict:", r["valid"])'
done
