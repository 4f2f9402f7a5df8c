#!/usr/bin/env bash
# Benchmarks redline's linearizable checker against todc-utils's WGL checker on the same
# generated histories, and prints a side-by-side table. Not part of the test suite.
#
#   scripts/bench-linearizable.sh [SCENARIO...]     (default: burst keys100 million)
#
# Env: PEER_TIMEOUT (seconds per peer run, default 120), OUT (where the JSONL histories go,
# default a temporary directory removed at the end). redline runs twice: with every core
# (rayon) and with RAYON_NUM_THREADS=1, since the peer is single-threaded.
set -euo pipefail
cd "$(dirname "$0")/.."
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(burst keys100 million)
peer_timeout=${PEER_TIMEOUT:-120}
if [ -z "${OUT:-}" ]; then
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
fi

cargo build --quiet --release -p redline-checkers --example bench_linearizable
(cd benches/peers/todc && cargo build --quiet --release)
bench=target/release/examples/bench_linearizable
peer=benches/peers/todc/target/release/redline-peer-todc

field() { tr '\t' '\n' | sed -n "s/^$1=//p"; }

printf '%-9s %9s | %-30s | %-30s | %-30s\n' scenario ops "redline (all cores)" "redline (1 thread)" "todc-utils 0.1.1 (1 thread)"
printf '%-9s %9s | %-30s | %-30s | %-30s\n' "" "" "verdict    ms      peak MB" "verdict    ms      peak MB" "verdict    ms      peak MB"
for s in "${scenarios[@]}"; do
    a=$("$bench" "$s" --out "$OUT" | head -1)
    b=$(RAYON_NUM_THREADS=1 "$bench" "$s" | head -1)
    if c=$(timeout "$peer_timeout" "$peer" "$OUT/$s.jsonl"); then :; else c="todc	valid=timeout(${peer_timeout}s)	check_ms=-	peak_rss_mb=-"; fi
    cell() { printf '%-10s %-8s %-8s' "$(echo "$1" | field valid)" "$(echo "$1" | field check_ms)" "$(echo "$1" | field peak_rss_mb)"; }
    printf '%-9s %9s | %-30s | %-30s | %-30s\n' "$s" "$(echo "$a" | field ops)" "$(cell "$a")" "$(cell "$b")" "$(cell "$c")"
done
