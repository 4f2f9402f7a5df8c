#!/usr/bin/env bash
# Fault-free Redis Cluster throughput, redline against redis-benchmark, in one run (issue #21:
# redline with its history recorded should reach at least half of redis-benchmark's --cluster
# mode with the same clients):
#   1. redis-benchmark --cluster -t sadd -c CLIENTS -n N against a plain cluster of 3 shards x
#      1 replica formed by redis-cli --cluster create (no proxies; every SADD of redis-benchmark
#      goes to a key tagged for one of the primaries, so the load covers all three shards),
#      once as is, once with -r, and once as a custom command doing what redline's set workload
#      does (see below);
#   2. redline test --topology cluster --shards 3 --replicas 1 --workload set --nemesis none
#      --concurrency CLIENTS --read-ratio 0 --keys 6 (pure SADD over six sets, two per shard),
#      every link through redline's proxies, every operation written to history.jsonl and checked.
# The load average is printed beside each figure (the machine may be shared).
# Usage: scripts/bench-cluster-throughput.sh [seconds-per-redline-run] [clients]
# Env: SERVER_BIN (default redis-server), REDLINE (default target/release/redline, built first),
#      NETS (the redline backends to measure, default "local netns": local puts redline's
#      proxies on every link; netns has none, its faults being nftables rules, and needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
clients=${2:-10}
server=${SERVER_BIN:-redis-server}
redline=${REDLINE:-target/release/redline}
[ -n "${REDLINE:-}" ] || cargo build --release --quiet --bin redline

dir=$(mktemp -d)
store=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$redline" cleanup --store "$store" >/dev/null 2>&1 || true
  rm -rf "$dir" "$store"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ports=()
for i in 1 2 3 4 5 6; do
  port=$(free_port)
  # The bus port is port + 10000: skip ports whose bus port would not fit.
  while [ "$port" -gt 55000 ]; do port=$(free_port); done
  mkdir -p "$dir/n$i"
  (cd "$dir/n$i" && exec "$server" --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file nodes.conf --save '' --appendonly no --daemonize no >log 2>&1) &
  pids+=($!)
  ports+=("$port")
done
sleep 1
addrs=()
for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
until redis-cli -p "${ports[0]}" cluster info | grep -q 'cluster_state:ok'; do sleep 0.2; done
sleep 1

# About as many requests as redis-benchmark sends in SECS seconds on this machine, so both sides
# run for about as long (sets grow alike).
n=$((secs * 150000))
# Three ways. `plain` is redis-benchmark's own SADD test: every request adds the one member
# "element:__rand_int__" to one set per primary, so after the first it changes nothing, and
# Redis neither propagates it to the replica nor appends it anywhere: a read, in effect.
# `random` adds -r: each SADD adds a random 12-digit member, so both sides write and replicate,
# but redis-benchmark's one set per primary grows with -n (hundreds of thousands of members)
# and its rate falls as the run lengthens. `bounded` does what redline's set workload does:
# each SADD adds a new member (1-2% repeats) to one of many sets of about 100 members (redline's
# default --set-size), `SADD set:{tag}:__rand_int__ __rand_int__` with -r n/300 (each
# __rand_int__ is drawn on its own; {tag} routes each client's keys to its primary). That last
# is the like-for-like yardstick: the same command, writing and replicating as much.
declare -A peer
bounded_range=$((n / 300))
for variant in plain random bounded; do
  args=(-t sadd)
  case $variant in
    random) args=(-t sadd -r 1000000000) ;;
    bounded) args=(-r "$bounded_range" SADD 'set:{tag}:__rand_int__' '__rand_int__') ;;
  esac
  echo "== redis-benchmark --cluster -c $clients -n $n ${args[*]} (plain cluster, 3 shards x 1 replica)"
  echo "   load: $(cut -d' ' -f1-3 /proc/loadavg)"
  line=$(redis-benchmark --cluster -p "${ports[0]}" -c "$clients" -n "$n" -q "${args[@]}" 2>/dev/null |
    tr '\r' '\n' | grep -i 'sadd' | grep 'requests per second' | tail -1 || true)
  echo "  $line"
  peer[$variant]=$(sed -nE 's/.*: ([0-9.]+) requests per second.*/\1/p' <<<"$line")
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

for net in ${NETS:-local netns}; do
  echo "== redline test --net $net --topology cluster --shards 3 --replicas 1 --workload set --nemesis none --concurrency $clients --read-ratio 0 --keys 6 --time-limit $secs"
  echo "   load: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$redline" test --net "$net" --topology cluster --shards 3 --replicas 1 --workload set --nemesis none \
    --concurrency "$clients" --read-ratio 0 --keys 6 --time-limit "$secs" --server-bin "$(command -v "$server")" \
    --store "$store" --json 2>/dev/null |
    PLAIN=${peer[plain]} RANDOM_MEMBERS=${peer[random]} BOUNDED=${peer[bounded]} python3 -c 'import json,os,sys
r=json.load(sys.stdin); a=r["checkers"]["availability"]["stats"]; l=r["checkers"]["lost-writes"]["stats"]
ops=a["throughput_ok_per_s"]
print("  ok ops/s:", round(ops), " adds acknowledged:", l["acknowledged"], " p50/p99 add latency ms:", a["latency_ms"]["add"]["p50"], a["latency_ms"]["add"]["p99"], " verdict:", r["valid"])
for name, var in (("redis-benchmark -t sadd", "PLAIN"), ("redis-benchmark -t sadd -r", "RANDOM_MEMBERS"), ("redis-benchmark bounded SADD (like for like)", "BOUNDED")):
    try:
        print(f"  ratio to {name}: {ops / float(os.environ[var]):.2f}x")
    except (KeyError, ValueError, ZeroDivisionError):
        print(f"  ratio to {name}: unknown (no figure)")' ||
    echo "   (redline exited non-zero: see its verdict above)"
  echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
