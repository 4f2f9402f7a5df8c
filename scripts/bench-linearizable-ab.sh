#!/usr/bin/env bash
# Compares two redline binaries' linearizable checker on a corpus of small histories, file by
# file and interleaved (old, new, old, new, ...), so that the load of a shared machine weighs on
# both alike. Every file is checked ROUNDS times (default 3) by each; prints the total wall time
# of each binary's processes and any file whose verdicts differ.
#
#   scripts/bench-linearizable-ab.sh OLD_BINARY NEW_BINARY FILE...
#
# Files: Knossos's data/cas-register/*/*.edn as they are; Porcupine's etcd logs converted first
# with scripts/porcupine-etcd-to-jsonl.py.
set -euo pipefail
old=${1:?usage: $0 OLD_BINARY NEW_BINARY FILE...}
new=${2:?usage: $0 OLD_BINARY NEW_BINARY FILE...}
shift 2
rounds=${ROUNDS:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# run BINARY FILE: prints "verdict microseconds"
run() {
  local s e
  s=$(date +%s%N)
  "$1" check "$2" --workload register --checkers linearizable --reads-from-master true \
    --json > "$tmp/out.json" 2>/dev/null || true
  e=$(date +%s%N)
  local verdict
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkers"]["linearizable"]["valid"])' \
    "$tmp/out.json" 2>/dev/null || echo error)
  echo "$verdict $(( (e - s) / 1000 ))"
}

old_us=0; new_us=0; differ=0
echo "load before: $(uptime | sed 's/.*load average: //')"
for ((r = 0; r < rounds; r++)); do
  for f in "$@"; do
    read -r vo to < <(run "$old" "$f")
    read -r vn tn < <(run "$new" "$f")
    old_us=$((old_us + to)); new_us=$((new_us + tn))
    if [ "$r" = 0 ] && [ "$vo" != "$vn" ]; then
      differ=$((differ + 1)); echo "DIFFERS old $vo new $vn  $f"
    fi
  done
done
echo "files: $#  rounds: $rounds  verdicts differing: $differ"
echo "old: $((old_us / 1000)) ms in total  new: $((new_us / 1000)) ms in total"
echo "load after: $(uptime | sed 's/.*load average: //')"
[ "$differ" -eq 0 ]
