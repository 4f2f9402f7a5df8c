#!/usr/bin/env bash
# Long runs under faults (issue #22): does redline keep its pace, its history linear and its
# outputs small as a run goes on?
#   long  a 120 s set run and a 120 s register run (replica reads), --nemesis kill,pause: the
#         exit code (a verdict is 0 or 1), acknowledged ops/s in the first and the last 20 s,
#         history bytes per op over time, output sizes, peak memory;
#   soak  one set run of SECONDS (default 600) under kill,pause, the same figures.
# Peak memory (VmHWM is not reset between phases, so VmRSS is sampled every 0.2 s) is given
# for the workload ("run") and for what follows it (final reads, analysis, saving).
# Extra arguments go to every `redline test` (e.g. --rate 20000 to keep a soak's analysis
# within this machine's memory: the analysis holds the whole history).
# Usage: scripts/bench-long-runs.sh long|soak [SECONDS] [redline test options...]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?long or soak}
shift
secs=120
if [ "$mode" = soak ]; then secs=600; fi
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then secs=$1; shift; fi
cargo build --release --quiet --bin redline
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT

# One run: its figures on stdout. $1 is a label; the rest are redline test options.
measure() {
  local label=$1; shift
  local err=$store/$label.err samples=$store/$label.rss
  echo "== $label: redline test $* --nemesis kill,pause --time-limit $secs (load $(cut -d' ' -f1-3 /proc/loadavg))"
  target/release/redline test --nemesis kill,pause --time-limit "$secs" --concurrency 10 \
    --store "$store/runs" --name "$label" "$@" >"$store/$label.out" 2>"$err" &
  local pid=$! phase=run
  : >"$samples"
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$phase" = run ] && grep -q "healing every fault" "$err"; then phase=after; fi
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    local history
    history=$(ls "$store/runs/$label"/*/history.jsonl 2>/dev/null | head -1 || true)
    local bytes=0
    [ -n "$history" ] && bytes=$(stat -c %s "$history" 2>/dev/null || echo 0)
    [ -n "$rss" ] && echo "$phase $rss $bytes" >>"$samples"
    sleep 0.2
  done
  local code=0
  wait "$pid" || code=$?
  local dir
  dir=$(ls -d "$store/runs/$label"/*/ | head -1)
  python3 - "$dir" "$samples" "$code" "$secs" <<'EOF'
import json, os, re, sys
run_dir, samples, code, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
peak = {"run": 0, "after": 0}
for line in open(samples):
    phase, rss, _ = line.split()
    peak[phase] = max(peak[phase], int(rss))
# Per second of the workload: acknowledged client ops; per 20 s window: history bytes and
# client invocations (bytes per op constant over windows = the history grows linearly).
second = int(secs) + 1
ok = [0] * (second + 1)
windows = second // 20 + 1
wbytes, wops = [0] * windows, [0] * windows
time_re = re.compile(r'"time":(\d+)')
ops = 0
for line in open(os.path.join(run_dir, "history.jsonl")):
    m = time_re.search(line)
    if not m or '"final":true' in line:
        continue
    t = int(m.group(1)) / 1e9
    if t >= secs:
        continue
    w = int(t) // 20
    wbytes[w] += len(line)
    if '"process":"' in line:
        continue
    if '"type":"invoke"' in line:
        ops += 1
        wops[w] += 1
    elif '"type":"ok"' in line:
        ok[int(t)] += 1
n = int(secs)
first, last = sum(ok[0:20]) / 20, sum(ok[n - 20:n]) / 20
def size(f):
    p = os.path.join(run_dir, f)
    return os.path.getsize(p) if os.path.exists(p) else 0
print(f"  exit {code}; workload ops {ops}; acknowledged ops/s first 20 s {first:.0f}, "
      f"last 20 s {last:.0f} (last/first {last / max(first, 1):.2f})")
results = json.load(open(os.path.join(run_dir, "results.json")))
keys = results["checkers"].get("availability", {}).get("stats", {}).get("keys")
print(f"  verdict {results['valid']}; keys used {keys}")
print(f"  history {size('history.jsonl') / 1e6:.1f} MB ({size('history.jsonl') / max(ops, 1):.0f} bytes "
      f"per op); results.json {size('results.json') / 1e3:.1f} kB; report.html "
      f"{size('report.html') / 1e3:.0f} kB; anomalies.jsonl {size('anomalies.jsonl') / 1e3:.0f} kB")
per_window = [f"{b / o:.0f}" for b, o in zip(wbytes, wops) if o > 0]
print(f"  history bytes per op by 20 s window: {' '.join(per_window)}")
print(f"  peak RSS: workload {peak['run'] / 1e3:.0f} MB; final reads, analysis and saving "
      f"{peak['after'] / 1e3:.0f} MB")
EOF
}

case "$mode" in
  long)
    measure set-kill-pause --workload set "$@"
    measure register-kill-pause --workload register --read-from replicas "$@"
    ;;
  soak)
    measure set-soak --workload set "$@"
    ;;
  *) echo "usage: $0 long|soak [SECONDS] [options]" >&2; exit 2 ;;
esac
