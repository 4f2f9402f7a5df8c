#!/usr/bin/env bash
# The nightly matrix N times in a row (issue #20 asks for three passes in a row as evidence that
# its verdicts are stable, not lucky): stops at the first pass that does not exit 0 and prints,
# per pass, its exit code, wall time and the load average before and after.
#
# Usage: scripts/nightly-streak.sh [passes] [suite-file]
#   e.g. scripts/nightly-streak.sh 3 suites/nightly.toml
# Env: REDLINE (the redline binary; default: target/release/redline, built first),
#      STORE (where the runs go; default: a new folder under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
passes=${1:-3}
suite=${2:-suites/nightly.toml}
if [ -z "${REDLINE:-}" ]; then
  cargo build --release --quiet
  REDLINE=target/release/redline
fi
store=${STORE:-$(mktemp -d /tmp/redline-nightly.XXXXXX)}
mkdir -p "$store"
echo "suite $suite, $passes passes, store $store, binary $REDLINE"
for pass in $(seq 1 "$passes"); do
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date +%s)
  set +e
  "$REDLINE" suite "$suite" --store "$store/pass-$pass" > "$store/pass-$pass.txt" 2>&1
  code=$?
  set -e
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "pass $pass: exit $code in $(( $(date +%s) - start )) s (load before $before, after $after; table: $store/pass-$pass.txt)"
  if [ "$code" -ne 0 ]; then
    tail -40 "$store/pass-$pass.txt"
    exit "$code"
  fi
done
echo "all $passes passes exit 0"
