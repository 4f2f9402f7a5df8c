#!/usr/bin/env bash
# Checks redline's linearizability verdicts against histories with known verdicts, such as
# Knossos's data/cas-register/{good,bad}/*.edn (kept outside this repository; point DIR at a
# copy). Every file under DIR/good must be valid and every file under DIR/bad invalid.
# Usage: scripts/check-knossos-corpus.sh DIR
# ms is the wall time of the redline process, the fastest of REPEAT runs (default 1). With
# BASELINE=path/to/an/older/redline, each file is also checked by that binary: its verdict
# must be the same, and a file whose time grew by more than 20% + 2 ms is marked SLOWER.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR (with good/ and bad/ subfolders of .edn histories)}
repeat=${REPEAT:-1}
baseline=${BASELINE:-}
cargo build --release --quiet --bin redline
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# check BINARY FILE: prints "verdict ms" (ms: fastest of REPEAT runs)
check() {
  local best=0 i s e t verdict
  for ((i = 0; i < repeat; i++)); do
    s=$(date +%s%N)
    # redline exits 1 on an invalid history: the verdict is read from its JSON, not its status.
    "$1" check "$2" --workload register --checkers linearizable --reads-from-master true \
      --json > "$tmp/out.json" 2>/dev/null || true
    e=$(date +%s%N)
    t=$(( (e - s) / 1000 ))
    if [ "$best" -eq 0 ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkers"]["linearizable"]["valid"])' \
    "$tmp/out.json" 2>/dev/null || echo error)
  printf '%s %d.%03d\n' "$verdict" $((best / 1000)) $((best % 1000))
}

agree=0; disagree=0; slower=0; total=0; base_total=0
for expected in good bad; do
  for f in "$dir/$expected"/*.edn; do
    [ -e "$f" ] || continue
    # redline reads the EDN as it is (no conversion step).
    out=$f
    read -r verdict ms < <(check target/release/redline "$out")
    total=$(awk -v a="$total" -v b="$ms" 'BEGIN { print a + b }')
    base=""
    want=$([ "$expected" = good ] && echo True || echo False)
    if [ "$verdict" = "$want" ]; then agree=$((agree+1)); mark=ok; else disagree=$((disagree+1)); mark=DISAGREE; fi
    if [ -n "$baseline" ]; then
      read -r base_verdict base_ms < <(check "$baseline" "$out")
      base_total=$(awk -v a="$base_total" -v b="$base_ms" 'BEGIN { print a + b }')
      base="  baseline: $base_verdict $base_ms ms"
      if [ "$base_verdict" != "$verdict" ]; then mark="$mark,BASELINE-DIFFERS"; disagree=$((disagree+1)); fi
      if awk -v n="$ms" -v b="$base_ms" 'BEGIN { exit !(n > b * 1.2 + 2) }'; then
        mark="$mark,SLOWER"; slower=$((slower+1))
      fi
    fi
    printf '%-9s %-5s got %-7s %9s ms%s  %s\n' "$mark" "$expected" "$verdict" "$ms" "$base" "$(basename "$f")"
  done
done
echo "agree: $agree, disagree: $disagree; redline ms in total: $total"
if [ -n "$baseline" ]; then
  echo "baseline ms in total: $base_total; slower than the baseline: $slower"
fi
echo "load: $(uptime | sed 's/.*load average: //')"
[ "$disagree" -eq 0 ]
