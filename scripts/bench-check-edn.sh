#!/usr/bin/env bash
# Time and peak memory of `redline check` on a large list-append history in Elle's EDN (one
# map per line, keywords, as Jepsen's history.edn), and on the same history as JSON lines.
#
# The history is adya's simulated serializable database (crates.io `adya` 0.1.0, as in
# scripts/bench-txn-cycles.sh), rewritten as EDN by the small converter below. The target
# (issue #19): a million transactions in under 10 s and 1 GB.
#
# Usage: scripts/bench-check-edn.sh [TXNS]        (default: 1000000)
# Env: BENCH_DIR (default /tmp/redline-bench-txn), ADYA_ROOT (default ~/.cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
BENCH_DIR=${BENCH_DIR:-/tmp/redline-bench-txn}
ADYA_ROOT=${ADYA_ROOT:-$HOME/.cargo}
ADYA="$ADYA_ROOT/bin/adya"
mkdir -p "$BENCH_DIR"
if [[ ! -x "$ADYA" ]]; then
    cargo install adya --version 0.1.0 --no-default-features --root "$ADYA_ROOT" >&2
fi
jsonl="$BENCH_DIR/serializable-$n.jsonl"
edn="$BENCH_DIR/serializable-$n.edn"
[[ -s "$jsonl" ]] || "$ADYA" run sim -i serializable -n "$n" --seed 1 -o "$jsonl" >/dev/null 2>&1
if [[ ! -s "$edn" ]]; then
    python3 - "$jsonl" "$edn" <<'PY'
import json, sys

def edn(v, keyword=False):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return ":" + v if keyword else json.dumps(v)
    if isinstance(v, list):
        mop = bool(v) and v[0] in ("append", "r", "w")
        return "[" + " ".join(edn(x, mop and i == 0) for i, x in enumerate(v)) + "]"
    return "{" + ", ".join(":%s %s" % (k, edn(x, k in ("type", "f"))) for k, x in v.items()) + "}"

with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for line in src:
        out.write(edn(json.loads(line)) + "\n")
PY
fi
cargo build --release -q --bin redline
echo "load before: $(uptime)"
for f in "$edn" "$jsonl"; do
    # Exit 1 (invalid) and 2 (unknown) are verdicts here, not failures.
    /usr/bin/time -v target/release/redline check --workload list-append "$f" \
        >"$f.out" 2>"$f.time" || true
    wall=$(grep "Elapsed (wall clock)" "$f.time" | awk '{print $NF}')
    rss=$(grep "Maximum resident set size" "$f.time" | awk '{print $NF}')
    verdict=$(grep -o "verdict: [a-zA-Z]*" "$f.out" | head -1 || true)
    printf '%-60s %10s  %6d MB  %s\n' "$(basename "$f") ($(du -h "$f" | cut -f1))" "$wall" \
        $((rss / 1024)) "${verdict:-see $f.out}"
done
echo "load after:  $(uptime)"
