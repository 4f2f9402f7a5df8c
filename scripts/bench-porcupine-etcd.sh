#!/usr/bin/env bash
# redline vs Porcupine, side by side, on the Jepsen etcd register logs of Porcupine's test data.
# Not part of the test suite. Needs Go (Debian: apt-get install golang-go; 1.19 is enough) and
# two folders kept outside this repository:
#     git clone https://github.com/anishathalye/porcupine
#     PORCUPINE_DIR=$PWD/porcupine scripts/bench-porcupine-etcd.sh porcupine/test_data/jepsen
#
# Usage: PORCUPINE_DIR=DIR scripts/bench-porcupine-etcd.sh CORPUS_DIR
# Env: REPEAT (default 5): each checker process runs this many times per file and the fastest
# wall time counts (the machine is shared; the minimum is the least disturbed run).
#
# The Porcupine side is benches/peers/porcupine/main.go (redline's own harness): it parses each
# log as porcupine_test.go's parseJepsenLog does and checks it with CheckEventsTimeout and the
# etcd model of that test. It is built against PORCUPINE_DIR through a go.mod replace, in a
# temporary directory, offline (GOPROXY=off). Columns: verdicts (expected from Porcupine's tests,
# redline's, Porcupine's); proc ms = wall time of one whole process (start, read, parse, check);
# check ms = Porcupine's CheckEventsTimeout alone, measured inside its process (mean of REPEAT).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: PORCUPINE_DIR=DIR $0 CORPUS_DIR}
pdir=${PORCUPINE_DIR:?set PORCUPINE_DIR to a checkout of github.com/anishathalye/porcupine}
repeat=${REPEAT:-5}
cargo build --release --quiet --bin redline
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp benches/peers/porcupine/*.go benches/peers/porcupine/go.mod "$tmp/"
(cd "$tmp" && go mod edit -replace "github.com/anishathalye/porcupine=$(cd "$pdir" && pwd)" &&
  GOFLAGS=-mod=mod GOPROXY=off go build -o peer .)

now() { date +%s%N; }
# fastest wall time in ms (3 decimals) of REPEAT runs of "$@", output of the last run kept in $tmp/out
fastest() {
  local best=0 s e t i
  for ((i = 0; i < repeat; i++)); do
    s=$(now); "$@" > "$tmp/out" 2>/dev/null || true; e=$(now)
    t=$(( (e - s) / 1000 ))
    if [ "$best" -eq 0 ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  printf '%d.%03d' $((best / 1000)) $((best % 1000))
}

printf '%-14s %-8s | %-8s %9s | %-8s %9s %9s | %s\n' file expected redline "proc ms" porcupine "proc ms" "check ms" agreement
: > "$tmp/rows"
for f in "$dir"/etcd_*.log; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  want=$(scripts/porcupine-etcd-to-jsonl.py --expected "$f")
  scripts/porcupine-etcd-to-jsonl.py "$f" > "$tmp/h.jsonl"
  r_ms=$(fastest target/release/redline check "$tmp/h.jsonl" --workload register \
    --checkers linearizable --reads-from-master true --json)
  r_v=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["checkers"]["linearizable"]["valid"]; print({True:"true",False:"false"}.get(v,str(v)))' "$tmp/out" || echo error)
  p_ms=$(fastest "$tmp/peer" "$f")
  p_v=$(sed -n 's/.*\tvalid=\([a-z]*\).*/\1/p' "$tmp/out"); p_v=${p_v:-error}
  "$tmp/peer" -repeat "$repeat" "$f" > "$tmp/out" || true
  p_check=$(sed -n 's/.*\tcheck_ms=\([0-9.]*\).*/\1/p' "$tmp/out")
  if [ "$r_v" = "$p_v" ] && { [ "$want" = none ] || [ "$r_v" = "$want" ]; }; then mark=same; else mark=DIFFERENT; fi
  printf '%-14s %-8s | %-8s %9s | %-8s %9s %9s | %s\n' "$name" "$want" "$r_v" "$r_ms" "$p_v" "$p_ms" "$p_check" "$mark"
  echo "$name $want $r_v $r_ms $p_v $p_ms $p_check $mark" >> "$tmp/rows"
done
awk '
  function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { n++; r[n] = $4; p[n] = $6; c[n] = $7; rt += $4; pt += $6; ct += $7
    if ($4 > rmax) rmax = $4; if ($6 > pmax) pmax = $6; if ($7 > cmax) cmax = $7
    if ($2 != "none") { nexp++; if ($3 == $2) ragree++; if ($5 == $2) pagree++ }
    if ($3 == $5) same++ }
  END {
    if (n == 0) { print "no etcd_*.log files"; exit }
    printf "files: %d; agree with expected: redline %d/%d, porcupine %d/%d; redline = porcupine on %d/%d\n", n, ragree, nexp, pagree, nexp, same, n
    printf "redline   proc ms: total %.1f  median %.1f  max %.1f\n", rt, med(r, n), rmax
    printf "porcupine proc ms: total %.1f  median %.1f  max %.1f\n", pt, med(p, n), pmax
    printf "porcupine check ms (in-process, search only): total %.1f  median %.2f  max %.1f\n", ct, med(c, n), cmax
  }' "$tmp/rows"
# The cost of a process that checks nothing: both sides on a one-op history.
printf 'INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n' > "$tmp/one.log"
scripts/porcupine-etcd-to-jsonl.py "$tmp/one.log" > "$tmp/one.jsonl"
r_floor=$(fastest target/release/redline check "$tmp/one.jsonl" --workload register \
  --checkers linearizable --reads-from-master true --json)
p_floor=$(fastest "$tmp/peer" "$tmp/one.log")
echo "process floor (one-op history): redline $r_floor ms, porcupine $p_floor ms"
echo "load: $(uptime | sed 's/.*load average: //')"
