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
# parse, check, write JSON), not of the search alone. Prints a table and a summary; exits 1 if
# any verdict differs from the expected one or is unknown.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR (a folder of etcd_NNN.log files)}
cargo build --release --quiet --bin redline
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
agree=0; disagree=0; unknown=0; untested=0
: > "$tmp/ms"
printf '%-14s %5s %-8s %-8s %9s %7s  %s\n' file ops expected redline ms states mark
for f in "$dir"/etcd_*.log; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  scripts/porcupine-etcd-to-jsonl.py "$f" > "$tmp/h.jsonl"
  want=$(scripts/porcupine-etcd-to-jsonl.py --expected "$f")
  start=$(date +%s%N)
  # redline exits 1 on an invalid history: the verdict is read from its JSON, not its status.
  target/release/redline check "$tmp/h.jsonl" --workload register --checkers linearizable \
    --reads-from-master true --json > "$tmp/out.json" 2>"$tmp/err" || true
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000 ))
  ms=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  echo "$ms" >> "$tmp/ms"
  read -r got ops states < <(python3 - "$tmp/out.json" <<'PY' || echo "error - -"
import json, sys
c = json.load(open(sys.argv[1]))["checkers"]["linearizable"]
v = {True: "true", False: "false"}.get(c["valid"], str(c["valid"]))
print(v, c["stats"].get("ops", "-"), c["stats"].get("max_search_states", "-"))
PY
)
  if [ "$want" = none ]; then mark=untested; untested=$((untested+1))
  elif [ "$got" = "$want" ]; then mark=agree; agree=$((agree+1))
  elif [ "$got" = true ] || [ "$got" = false ]; then mark=DISAGREE; disagree=$((disagree+1))
  else mark=UNKNOWN; unknown=$((unknown+1)); fi
  printf '%-14s %5s %-8s %-8s %9s %7s  %s\n' "$name" "$ops" "$want" "$got" "$ms" "$states" "$mark"
done
sort -n "$tmp/ms" | awk -v a="$agree" -v d="$disagree" -v u="$unknown" -v n="$untested" '
  { ms[NR] = $1; total += $1 }
  END {
    if (NR == 0) { print "no etcd_*.log files"; exit }
    med = (NR % 2) ? ms[(NR + 1) / 2] : (ms[NR / 2] + ms[NR / 2 + 1]) / 2
    printf "files: %d  agree: %d  disagree: %d  unknown: %d  no expected verdict: %d\n", NR, a, d, u, n
    printf "redline ms per file (whole process): median %.1f  max %.1f  total %.1f\n", med, ms[NR], total
  }'
echo "load: $(uptime | sed 's/.*load average: //')"
[ "$disagree" -eq 0 ] && [ "$unknown" -eq 0 ]
