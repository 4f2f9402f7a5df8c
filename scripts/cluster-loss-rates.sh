#!/usr/bin/env bash
# Loss rates on a Redis Cluster when a shard's primary is isolated from the cluster majority
# while its clients still reach it (issue #21): RUNS runs each of the set workload on 3 shards x
# 1 replica with `--nemesis partition:minority` (one primary cut from every other node for
# FAULT seconds, longer than cluster-node-timeout, so its replica takes its slots over), per
# setting of the primaries' write guard:
#   none      - Redis's defaults;
#   mrw       - min-replicas-to-write 1 (min-replicas-max-lag stays at its default 10 s);
#   mrw-lag1  - min-replicas-to-write 1 and min-replicas-max-lag 1.
# For each: in how many runs acknowledged writes were lost, how many in all out of how many
# acknowledged, and how many lost writes the lost-writes checker attributed to a failover
# (`dropped_by`) with the fault before it.
#
# Usage: scripts/cluster-loss-rates.sh [runs] [seconds-per-run] [settings...]
#   e.g. scripts/cluster-loss-rates.sh 10 20 none mrw mrw-lag1
# Env: SERVER_BIN (default redis-server on PATH), NODE_TIMEOUT_MS (default 2000),
#      FAULT (seconds, default 6), INTERVAL (seconds between faults, default 10),
#      REDLINE (the redline binary; default: target/release/redline, built first),
#      SEED_BASE (run i uses seed SEED_BASE + i; default 2100: give another base for runs
#      independent of earlier ones).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
secs=${2:-20}
shift $(( $# > 2 ? 2 : $# ))
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(none mrw mrw-lag1)
timeout_ms=${NODE_TIMEOUT_MS:-2000}
fault=${FAULT:-6}
interval=${INTERVAL:-10}
seed_base=${SEED_BASE:-2100}
server=()
[ -n "${SERVER_BIN:-}" ] && server=(--server-bin "$SERVER_BIN")
redline=${REDLINE:-target/release/redline}
[ -n "${REDLINE:-}" ] || cargo build --release --quiet --bin redline
store=$(mktemp -d)
trap '"$redline" cleanup --store "$store" >/dev/null 2>&1; rm -rf "$store"' EXIT

options() {
  case "$1" in
    none) ;;
    mrw) echo "--redis-option min-replicas-to-write=1" ;;
    mrw-lag1) echo "--redis-option min-replicas-to-write=1 --redis-option min-replicas-max-lag=1" ;;
    *) echo "unknown setting $1" >&2; exit 64 ;;
  esac
}

echo "server: ${SERVER_BIN:-redis-server} ($("${SERVER_BIN:-redis-server}" --version | head -c 60))"
for setting in "${settings[@]}"; do
  lossy=0 lost_all=0 acked_all=0 explained_all=0 listed_all=0 failed=0
  for i in $(seq 1 "$runs"); do
    set +e
    timeout 180 "$redline" test --topology cluster --shards 3 --replicas 1 \
      --cluster-node-timeout "$timeout_ms" --workload set --nemesis partition:minority \
      --nemesis-interval "$interval" --fault-duration "$fault" --time-limit "$secs" \
      $(options "$setting") ${server[@]+"${server[@]}"} \
      --seed "$((seed_base + i))" --name "minority-$setting" --store "$store" >/dev/null 2>&1
    code=$?
    set -e
    if [ "$code" -eq 2 ] || [ "$code" -eq 124 ]; then
      failed=$((failed + 1))
      echo "  $setting run $i: could not decide (exit $code)"
      continue
    fi
    read -r lost acked explained listed < <(python3 - "$store/minority-$setting/latest/results.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["checkers"]["lost-writes"]
s = r.get("stats", {})
listed = [a for a in r.get("anomalies", []) if a["kind"] == "lost"]
explained = sum(1 for a in listed if a["details"].get("dropped_by", {}).get("fault_op") is not None)
print(s.get("lost", 0), s.get("acknowledged", 0), explained, len(listed))
EOF
)
    echo "  $setting run $i (seed $((seed_base + i))): lost $lost of $acked acknowledged; $explained of the $listed listed attributed to a failover after a fault; load $(cut -d' ' -f1 /proc/loadavg)"
    lost_all=$((lost_all + lost)); acked_all=$((acked_all + acked))
    explained_all=$((explained_all + explained)); listed_all=$((listed_all + listed))
    [ "$lost" -gt 0 ] && lossy=$((lossy + 1))
  done
  echo "$setting: $lossy of $((runs - failed)) runs lost acknowledged writes; $lost_all lost of $acked_all acknowledged; $explained_all of $listed_all listed attributed to a failover after a fault; $failed runs could not run; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
