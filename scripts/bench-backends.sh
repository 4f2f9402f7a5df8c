#!/usr/bin/env bash
# Throughput and Sentinel failover time on the three backends, in one run on this machine:
#   local  every server on 127.0.0.1 behind redline's proxies;
#   netns  one network namespace per server, no proxy (--net netns);
#   ssh    six stand-in hosts this script builds (network namespaces running sshd, as the tests
#          do), driven over SSH (--nodes).
# For each: the set workload with no faults (pure SADD, --concurrency 10) for ok ops/s and add
# latency; then three Sentinels and kill:master faults, for the time from each kill to the new
# master's declaration (+switch-master), from the availability checker.
# Needs root, ip netns, nft, sshd, redis-server, redis-sentinel. Outside the test suite.
# Usage: scripts/bench-backends.sh [seconds-per-throughput-run] [seconds-per-failover-run]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
fsecs=${2:-24}
cargo build --release --quiet --bin redline

work=$(mktemp -d)
prefix="rlb$(printf '%06x' $((RANDOM * RANDOM % 16777216)))"
third=""
for n in $(seq 200 250); do
  ip -4 -o addr show | grep -q "10\.89\.$n\." || { third=$n; break; }
done
[ -n "$third" ] || { echo "no free 10.89.<n>.0/24" >&2; exit 2; }
sshd_pids=()
cleanup() {
  # While the hosts still run: whatever a failed SSH run left there.
  target/release/redline cleanup --store "$work/store" >/dev/null 2>&1 || true
  for p in "${sshd_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in 1 2 3 4 5 6; do
    ip netns pids "${prefix}h$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip link del "${prefix}h$i" 2>/dev/null || true
    ip netns del "${prefix}h$i" 2>/dev/null || true
  done
  ip link del "${prefix}br" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The stand-in hosts: h1..h6 on 10.89.$third.11-16, sshd with a generated host key each.
mkdir -p /run/sshd "$work/remote"
ssh-keygen -q -t ed25519 -N '' -f "$work/id"
cp "$work/id.pub" "$work/authorized_keys"
ip link add "${prefix}br" type bridge
ip addr add "10.89.$third.1/24" dev "${prefix}br"
ip link set "${prefix}br" up
: > "$work/known_hosts"
for i in 1 2 3 4 5 6; do
  ns="${prefix}h$i"; addr="10.89.$third.$((10 + i))"
  ip netns add "$ns"
  ip link add "$ns" type veth peer name eth0 netns "$ns"
  ip link set "$ns" master "${prefix}br" up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ssh-keygen -q -t ed25519 -N '' -f "$work/host_h$i"
  cat > "$work/sshd_h$i.conf" <<CONF
ListenAddress $addr
HostKey $work/host_h$i
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
MaxSessions 100
MaxStartups 100
PidFile $work/sshd_h$i.pid
CONF
  ip netns exec "$ns" /usr/sbin/sshd -D -e -f "$work/sshd_h$i.conf" 2>"$work/sshd_h$i.log" &
  sshd_pids+=($!)
  echo "$addr $(cat "$work/host_h$i.pub")" >> "$work/known_hosts"
done
h() { echo "10.89.$third.$((10 + $1))"; }
ssh_flags=(--ssh-key "$work/id" --ssh-known-hosts "$work/known_hosts" --remote-dir "$work/remote")
for i in 1 2 3 4 5 6; do # wait (bounded) until each sshd accepts connections
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/$(h "$i")/22") 2>/dev/null && break; sleep 0.1; done
done
three="n1=$(h 1),n2=$(h 2),n3=$(h 3)"
six="$three,s1=$(h 4),s2=$(h 5),s3=$(h 6)"

summary() {
  python3 -c '
import json, sys
r = json.load(sys.stdin)
a = r["checkers"]["availability"]["stats"]
lat = a.get("latency_ms", {}).get("add", {})
print("  ok ops/s: %s  add p50/p99 ms: %s / %s  failovers: %d  failover ms p50/max: %s / %s  verdict: %s" % (
    round(a["throughput_ok_per_s"]), lat.get("p50"), lat.get("p99"), len(a.get("failovers", [])),
    a.get("failover_ms_p50"), a.get("failover_ms_max"), r["valid"]))'
}

run() {
  if target/release/redline test --store "$work/store" --json "$@" >"$work/out.json" 2>"$work/err.txt" ||
    [ -s "$work/out.json" ]; then
    summary < "$work/out.json"
  else
    echo "  failed:"; tail -5 "$work/err.txt"
  fi
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for backend in ${BACKENDS:-local netns ssh}; do
  case $backend in
    local) flags=(--net local); sflags=(--net local --sentinels 3) ;;
    netns) flags=(--net netns); sflags=(--net netns --sentinels 3) ;;
    ssh) flags=(--nodes "$three" "${ssh_flags[@]}"); sflags=(--nodes "$six" "${ssh_flags[@]}") ;;
  esac
  echo "== $backend: set, no faults, --concurrency 10 --read-ratio 0 --time-limit $secs"
  run "${flags[@]}" --workload set --nemesis none --concurrency 10 --read-ratio 0 --time-limit "$secs"
  echo "== $backend: three Sentinels, kill:master every 8 s (down 6 s), --time-limit $fsecs, seed 1"
  run "${sflags[@]}" --workload set --nemesis kill:master --nemesis-interval 8 --fault-duration 6 \
    --time-limit "$fsecs" --seed 1 --sentinel-down-after 1000
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
