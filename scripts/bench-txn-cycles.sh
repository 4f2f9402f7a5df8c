#!/usr/bin/env bash
# Side-by-side benchmark of redline's txn-cycles checker and the `adya` crate (0.1.0), an
# independent Rust take on Elle, on the same list-append histories.
#
# adya's simulated database writes Elle-format histories at serializable, snapshot-isolation,
# read-committed and lost-update levels; both tools then check the same files in this one run,
# each under /usr/bin/time -v (wall time and peak RSS). The table compares verdicts and the
# anomaly classes each reported. redline reads each file as `redline check` does a list-append
# history (streamed into compact transactions, see checkers/examples/bench_txn_cycles.rs).
#
# Usage: scripts/bench-txn-cycles.sh [TXNS ...]        (default: 100000)
#   e.g. scripts/bench-txn-cycles.sh 100000 1000000
# Env: BENCH_DIR (default /tmp/redline-bench-txn), ADYA_ROOT (default ~/.cargo; adya is
#      installed there with `cargo install adya --no-default-features` when missing),
#      LEVELS (default "serializable snapshot-isolation read-committed lost-update"; sizes of
#      a million or more run serializable only unless LEVELS_BIG is set),
#      ADYA_MODELS (default strict-serializable, adya's default).
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=("${@:-100000}")
BENCH_DIR=${BENCH_DIR:-/tmp/redline-bench-txn}
ADYA_ROOT=${ADYA_ROOT:-$HOME/.cargo}
LEVELS=${LEVELS:-"serializable snapshot-isolation read-committed lost-update"}
LEVELS_BIG=${LEVELS_BIG:-serializable}
ADYA_MODELS=${ADYA_MODELS:-strict-serializable}
mkdir -p "$BENCH_DIR"

ADYA="$ADYA_ROOT/bin/adya"
if [[ ! -x "$ADYA" ]]; then
    echo "installing adya 0.1.0 into $ADYA_ROOT" >&2
    cargo install adya --version 0.1.0 --no-default-features --root "$ADYA_ROOT" >&2
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time" >&2
    apt-get install -y time >&2
fi
cargo build --release -q -p redline-checkers --example bench_txn_cycles
REDLINE=target/release/examples/bench_txn_cycles

rows="$BENCH_DIR/rows.tsv"
: >"$rows"
# The machine may be shared: the load average goes next to the figures.
echo "load before: $(uptime)"
for n in "${SIZES[@]}"; do
    levels=$LEVELS
    if ((n >= 1000000)); then levels=$LEVELS_BIG; fi
    for level in $levels; do
        file="$BENCH_DIR/$level-$n.jsonl"
        if [[ ! -s "$file" ]]; then
            echo "generating $file" >&2
            "$ADYA" run sim -i "$level" -n "$n" --seed 1 -o "$file" >/dev/null 2>&1 || true
        fi
        [[ -s "$file" ]] || { echo "adya did not write $file" >&2; exit 2; }
        # Exit codes 1 (anomalies) and 2 (unknown) are verdicts, not failures.
        /usr/bin/time -v "$ADYA" check -c "$ADYA_MODELS" "$file" \
            >"$file.adya.out" 2>"$file.adya.time" || true
        /usr/bin/time -v "$REDLINE" "$file" \
            >"$file.redline.out" 2>"$file.redline.time" || true
        printf '%s\t%s\t%s\t%s\n' "$level" "$n" "$file" "$(wc -l <"$file")" >>"$rows"
    done
done

echo "load after:  $(uptime)"
python3 - "$rows" <<'PY'
import re, sys

def time_stats(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    h, m, s = wall.groups()
    secs = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return secs, rss / 1024

def adya(path):
    text = open(path).read()
    verdict = re.search(r"\t(true|false|unknown)", text)
    found = re.search(r"^Found (.*)\.$", text, re.M)
    kinds = {}
    if found:
        for part in found.group(1).split(", "):
            count, kind = part.split(" ", 1)
            kinds[kind] = int(count)
    return (verdict.group(1) if verdict else "?"), kinds

def redline(path):
    line = open(path).readline()
    m = re.search(r"verdict=(\w+) .*anomalies=(\S+)", line)
    if not m:
        return "?", {}
    verdict = {"valid": "true", "invalid": "false"}.get(m.group(1), m.group(1))
    kinds = {}
    if m.group(2) != "none":
        for part in m.group(2).split(","):
            kind, count = part.rsplit(":", 1)
            kinds[kind] = int(count)
    return verdict, kinds

def base(kinds):
    return {re.sub(r"-(process|realtime)$", "", k) for k in kinds}

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
header = ["history", "ops", "adya", "adya s", "adya MB", "redline", "redline s",
          "redline MB", "speedup", "classes"]
table = [header]
details = []
for level, n, path, ops in rows:
    av, ak = adya(path + ".adya.out")
    rv, rk = redline(path + ".redline.out")
    at, am = time_stats(path + ".adya.time")
    rt, rm = time_stats(path + ".redline.time")
    same = base(ak) == base(rk)
    table.append([f"{level}-{n}", ops, av, f"{at:.2f}", f"{am:.0f}", rv, f"{rt:.2f}",
                  f"{rm:.0f}", f"{at / rt:.1f}x", "same" if same else "differ"])
    details.append(f"{level}-{n}:\n  adya:    {ak}\n  redline: {rk}")
widths = [max(len(r[i]) for r in table) for i in range(len(header))]
for i, r in enumerate(table):
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    if i == 0:
        print("  ".join("-" * w for w in widths))
print()
print("anomaly counts by kind ('classes' compares kinds without -process/-realtime):")
print("\n".join(details))
PY
