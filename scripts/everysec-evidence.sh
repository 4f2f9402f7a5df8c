#!/usr/bin/env bash
# The everysec question of issue #20, with evidence: a plain process kill of the master under
# `appendfsync everysec`, once with a normal disk and once with a slow one (every fsync
# FSYNC_DELAY_MS late, redline's lazy disk), while the master's `INFO persistence` is sampled
# every 50 ms. The last sample before each kill (when the master stops answering) shows what
# Redis held then: a background fsync in flight (aof_pending_bio_fsync), an AOF buffer it had
# not written (aof_buffer_length), how often it gave up waiting (aof_delayed_fsync).
# Then, per run, the lost writes and how long before the kill each was acknowledged.
#
# Usage: scripts/everysec-evidence.sh [fsync-delay-ms] [seconds] [seed]   (default 1500 8 1000)
# Needs /dev/fuse and fusermount3 for the slow disk, and redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
delay=${1:-1500}
secs=${2:-8}
seed=${3:-1000}
cargo build --release --quiet --bin redline
store=$(mktemp -d)
trap 'target/release/redline cleanup --store "$store" >/dev/null 2>&1; rm -rf "$store"' EXIT
fields='aof_pending_bio_fsync|aof_buffer_length|aof_delayed_fsync|aof_last_write_status|aof_rewrite_in_progress'

# Samples n1's INFO persistence while the run lives; prints the last sample before each outage
# (each kill, then the teardown at the end).
sample() {
  local conf=$1 run_pid=$2 port last="" down=1
  port=$(awk '$1 == "port" {print $2}' "$conf")
  while kill -0 "$run_pid" 2>/dev/null; do
    if info=$(timeout 1 redis-cli -p "$port" INFO persistence 2>/dev/null | tr -d '\r' | grep -E "^($fields):"); then
      last=$(echo "$info" | tr '\n' ' ')
      down=0
    elif [ "$down" = 0 ]; then
      echo "$last"
      down=1
    fi
    sleep 0.05
  done
}

for d in 0 "$delay"; do
  name="everysec-kill-fsync-delay-$d"
  echo "== appendfsync everysec, kill:master every 2 s, fsync delay $d ms, seed $seed, ${secs} s"
  echo "   target/release/redline test --workload set --nemesis kill:master --time-limit $secs --nemesis-interval 2 \\"
  echo "     --replicas 2 --redis-option appendonly=yes --redis-option appendfsync=everysec --fsync-delay-ms $d --seed $seed"
  target/release/redline test --workload set --nemesis kill:master --time-limit "$secs" \
    --nemesis-interval 2 --replicas 2 --redis-option appendonly=yes \
    --redis-option appendfsync=everysec --fsync-delay-ms "$d" --seed "$seed" \
    --name "$name" --store "$store" >/dev/null 2>&1 &
  run_pid=$!
  conf=""
  for _ in $(seq 1 600); do
    conf=$(ls "$store/$name"/*/nodes/n1/redis.conf 2>/dev/null | head -1 || true)
    [ -n "$conf" ] && break
    sleep 0.05
  done
  sleep 0.5 # the server is up once its config is written and it started
  outages=$([ -n "$conf" ] && sample "$conf" "$run_pid" || true)
  wait "$run_pid" || true
  run="$store/$name/latest"
  kills=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["schedule"]))' "$run/test.json")
  echo "$outages" | head -n "$kills" | awk '{print "    n1 at kill " NR ": " $0}'
  echo "    lost writes: $(python3 scripts/lost-write-ages.py "$run" kill)"
  echo "    n1's log: $(grep -c 'Asynchronous AOF fsync is taking too long' "$run/nodes/n1/redis.log" || true) x \"Asynchronous AOF fsync is taking too long\""
done
