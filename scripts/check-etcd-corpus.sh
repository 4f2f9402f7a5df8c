#!/usr/bin/env bash
# Checks redline's linearizability verdicts on the Jepsen etcd register histories that Porcupine
# keeps as test data, against the verdicts Porcupine's tests assert. The logs are kept outside
# this repository:
#     git clone https://github.com/anishathalye/porcupine     # then DIR=porcupine/test_data/jepsen
# (etcd_000.log ... etcd_102.log; porcupine_test.go's TestEtcdJepsenNNN give the verdicts, which
# scripts/porcupine-etcd-to-jsonl.py --expected repeats; 095 has none).
#
# Usage: scripts/check-etcd-corpus.sh DIR
# Each log is converted (scripts/porcupine-etcd-to-jsonl.py), checked with `redline check
# --checkers linearizable`, and timed: ms is the wall time of the whole redline process (read,
# parse, check, write JSON), not of the search alone, the fastest of REPEAT runs (default 1).
# With BASELINE=path/to/an/older/redline, each log is also checked by that binary: its verdict
# must be the same, and a log whose time grew by more than 20% + 2 ms is marked SLOWER.
# Prints a table and a summary; exits 1 if any verdict differs from the expected one (or from
# the baseline's) or is unknown.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR (a folder of etcd_NNN.log files)}
repeat=${REPEAT:-1}
baseline=${BASELINE:-}
cargo build --release --quiet --bin redline
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# check BINARY FILE: prints "verdict ops states ms" (ms: fastest of REPEAT runs)
check() {
  local best=0 i s e t
  for ((i = 0; i < repeat; i++)); do
    s=$(date +%s%N)
    # redline exits 1 on an invalid history: the verdict is read from its JSON, not its status.
    "$1" check "$2" --workload register --checkers linearizable --reads-from-master true \
      --json > "$tmp/out.json" 2>"$tmp/err" || true
    e=$(date +%s%N)
    t=$(( (e - s) / 1000 ))
    if [ "$best" -eq 0 ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  python3 - "$tmp/out.json" "$best" <<'PY' || echo "error - - -"
import json, sys
c = json.load(open(sys.argv[1]))["checkers"]["linearizable"]
v = {True: "true", False: "false"}.get(c["valid"], str(c["valid"]))
us = int(sys.argv[2])
print(v, c["stats"].get("ops", "-"), c["stats"].get("max_search_states", "-"), f"{us / 1000:.3f}")
PY
}

agree=0; disagree=0; unknown=0; untested=0; slower=0
: > "$tmp/ms"; : > "$tmp/base_ms"
printf '%-14s %5s %-8s %-8s %9s %7s  %-8s %9s  %s\n' file ops expected redline ms states baseline "base ms" mark
for f in "$dir"/etcd_*.log; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  scripts/porcupine-etcd-to-jsonl.py "$f" > "$tmp/h.jsonl"
  want=$(scripts/porcupine-etcd-to-jsonl.py --expected "$f")
  read -r got ops states ms < <(check target/release/redline "$tmp/h.jsonl")
  echo "$ms" >> "$tmp/ms"
  base_got=-; base_ms=-
  if [ -n "$baseline" ]; then
    read -r base_got _ _ base_ms < <(check "$baseline" "$tmp/h.jsonl")
    echo "$base_ms" >> "$tmp/base_ms"
  fi
  if [ "$want" = none ]; then mark=untested; untested=$((untested+1))
  elif [ "$got" = "$want" ]; then mark=agree; agree=$((agree+1))
  elif [ "$got" = true ] || [ "$got" = false ]; then mark=DISAGREE; disagree=$((disagree+1))
  else mark=UNKNOWN; unknown=$((unknown+1)); fi
  if [ -n "$baseline" ] && [ "$base_got" != "$got" ]; then
    mark="$mark,BASELINE-DIFFERS"; disagree=$((disagree+1))
  fi
  if [ -n "$baseline" ] && awk -v n="$ms" -v b="$base_ms" 'BEGIN { exit !(n > b * 1.2 + 2) }'; then
    mark="$mark,SLOWER"; slower=$((slower+1))
  fi
  printf '%-14s %5s %-8s %-8s %9s %7s  %-8s %9s  %s\n' "$name" "$ops" "$want" "$got" "$ms" "$states" "$base_got" "$base_ms" "$mark"
done
summary() {
  sort -n "$1" | awk -v who="$2" '
    { ms[NR] = $1; total += $1 }
    END {
      if (NR == 0) exit
      med = (NR % 2) ? ms[(NR + 1) / 2] : (ms[NR / 2] + ms[NR / 2 + 1]) / 2
      printf "%s ms per file (whole process): median %.1f  max %.1f  total %.1f\n", who, med, ms[NR], total
    }'
}
echo "files: $(wc -l < "$tmp/ms")  agree: $agree  disagree: $disagree  unknown: $unknown  no expected verdict: $untested"
summary "$tmp/ms" redline
if [ -n "$baseline" ]; then
  summary "$tmp/base_ms" baseline
  echo "slower than the baseline: $slower"
fi
echo "load: $(uptime | sed 's/.*load average: //')"
[ "$disagree" -eq 0 ] && [ "$unknown" -eq 0 ]
