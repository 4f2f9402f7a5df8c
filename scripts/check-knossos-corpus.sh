#!/usr/bin/env bash
# Checks redline's linearizability verdicts against histories with known verdicts, such as
# Knossos's data/cas-register/{good,bad}/*.edn (kept outside this repository; point DIR at a
# copy). Every file under DIR/good must be valid and every file under DIR/bad invalid.
# Usage: scripts/check-knossos-corpus.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR (with good/ and bad/ subfolders of .edn histories)}
cargo build --release --quiet --bin redline
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
agree=0; disagree=0
for expected in good bad; do
  for f in "$dir/$expected"/*.edn; do
    [ -e "$f" ] || continue
    # redline reads the EDN as it is (no conversion step).
    out=$f
    start=$(date +%s.%N)
    # redline exits 1 on an invalid history: the verdict is read from its JSON, not its status.
    verdict=$(set +o pipefail; target/release/redline check "$out" --workload register --checkers linearizable \
      --reads-from-master true --json 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["checkers"]["linearizable"]["valid"])' || true)
    took=$(python3 -c "import time; print(f'{(time.time()-$start)*1000:.0f} ms')")
    want=$([ "$expected" = good ] && echo True || echo False)
    if [ "$verdict" = "$want" ]; then agree=$((agree+1)); mark=ok; else disagree=$((disagree+1)); mark=DISAGREE; fi
    printf '%-9s %-5s got %-7s %8s  %s\n' "$mark" "$expected" "$verdict" "$took" "$(basename "$f")"
  done
done
echo "agree: $agree, disagree: $disagree"
[ "$disagree" -eq 0 ]
