#!/usr/bin/env bash
# Peak memory and wall time of analysing one stored run, for two redline binaries on the same
# run folder (issue #22): `redline report RUN_DIR` re-analyses history.jsonl and rewrites
# results.json, anomalies.jsonl, report.html and junit.xml, as the end of `redline test` does.
# Prints, per binary: the load average, peak RSS, wall time, output sizes; then whether the two
# results.json are the same.
#
# Usage: scripts/analysis-memory.sh RUN_DIR BEFORE_BINARY AFTER_BINARY
set -euo pipefail
run=${1:?run folder}; before=${2:?binary}; after=${3:?binary}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "history: $(stat -c %s "$run/history.jsonl") bytes, $(wc -l < "$run/history.jsonl") records"
for which in before after; do
    bin=${!which}
    echo "== $which: $bin report $run"
    echo "load: $(uptime | sed 's/.*load average: //')"
    set +e
    /usr/bin/time -f '%M %e' -o "$out/time" "$bin" report "$run" > "$out/$which.stdout" 2>&1
    echo "exit: $?"
    set -e
    read -r kb secs < <(tail -n 1 "$out/time")
    echo "peak RSS: $((kb / 1024)) MB, wall: ${secs} s"
    echo "anomalies.jsonl: $(stat -c %s "$run/anomalies.jsonl") bytes, $(wc -l < "$run/anomalies.jsonl") lines"
    echo "results.json: $(stat -c %s "$run/results.json") bytes"
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' \
        "$run/results.json" > "$out/$which.json"
done
if cmp -s "$out/before.json" "$out/after.json" && cmp -s "$out/before.stdout" "$out/after.stdout"; then
    echo "results.json and the terminal output are the same"
else
    echo "results.json or the terminal output DIFFER"
fi
