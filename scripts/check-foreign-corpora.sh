#!/usr/bin/env bash
# Checks redline's verdicts against public histories with known verdicts, each file checked
# unchanged, as a user would run `redline check` on it:
#
# - elle-cli (ligurio/elle-cli): every case of its test.sh whose --model redline has (the
#   exit code test.sh asserts: 0 valid, 1 invalid); models redline does not check (mutex,
#   bank, long-fork) are listed as such. --model maps to --workload (cas-register is
#   register, set-full is set) and --consistency-models is passed on; elle-cli's plotting
#   and timeout options have no counterpart and are dropped.
# - Elle (jepsen-io/elle): histories/*.edn, which Elle's own tests find invalid.
#
# The repositories are kept outside this one; point at copies (the search tool's fetch, or
# git clone). Knossos's data/cas-register is checked by scripts/check-knossos-corpus.sh.
# Usage: scripts/check-foreign-corpora.sh ELLE_CLI_DIR [ELLE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
elle_cli=${1:?usage: $0 ELLE_CLI_DIR [ELLE_DIR]}
elle=${2:-}
cargo build --release --quiet --bin redline
redline=target/release/redline
agree=0; disagree=0; other=0

check() { # expected-exit workload file [extra args...]
  local want=$1 workload=$2 file=$3; shift 3
  local got start took
  start=$(date +%s%N)
  set +e
  timeout 600 "$redline" check --workload "$workload" "$@" "$file" >/dev/null 2>&1
  got=$?
  set -e
  took=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ "$got" = "$want" ]; then agree=$((agree + 1)); mark=ok; else disagree=$((disagree + 1)); mark=DISAGREE; fi
  printf '%-9s want %s got %s %6s ms  --workload %-11s %s %s\n' \
    "$mark" "$want" "$got" "$took" "$workload" "$*" "${file#"$elle_cli"/}"
}

# elle-cli: the run_test lines of test.sh.
while IFS= read -r line; do
  [[ $line =~ ^run_test\ ([0-9]+)\ \"(.*)\"$ ]] || continue
  want=${BASH_REMATCH[1]}
  read -r -a args <<<"${BASH_REMATCH[2]}"
  model=""; file=""; extra=()
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      --model) model=${args[++i]} ;;
      --consistency-models) extra+=(--consistency-models "${args[++i]}") ;;
      --plot-format|--cycle-search-timeout|--plot-timeout|--max-plot-bytes|--group-size) i=$((i + 1)) ;;
      *) file=${args[i]} ;;
    esac
  done
  case $model in
    cas-register) workload=register ;;
    set-full|set) workload=set ;;
    counter|list-append|rw-register) workload=$model ;;
    *) other=$((other + 1)); printf '%-9s %s (no redline model for --model %s)\n' "n/a" "$file" "$model"; continue ;;
  esac
  if [ ! -e "$elle_cli/$file" ]; then
    other=$((other + 1)); printf '%-9s %s (missing from this copy)\n' "n/a" "$file"; continue
  fi
  check "$want" "$workload" "$elle_cli/$file" "${extra[@]}"
done <"$elle_cli/test.sh"

# Elle's histories: its tests find each of them invalid.
if [ -n "$elle" ]; then
  for f in "$elle"/histories/*.edn; do
    check 1 list-append "$f"
  done
fi

echo "agree: $agree, disagree: $disagree, not checked: $other"
[ "$disagree" -eq 0 ]
