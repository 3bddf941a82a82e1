#!/usr/bin/env bash
# Bad-input soak: runs the property tests of every parser again and again, each for a time
# budget (default 10 minutes), all parsers in parallel, with fresh random cases every round.
#
#   scripts/soak.sh            # 10 minutes per parser
#   scripts/soak.sh 2          # 2 minutes per parser
#
# Prints, per parser, how many cases ran and whether any failed; exits non-zero on a failure
# (the failing case is in the parser's log, printed at the end). CI runs the same properties
# at 2,000 cases each as part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
budget=$((minutes * 60))
cases_per_round=${OCDT_SOAK_ROUND_CASES:-20000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# name | cargo test arguments | test filter | properties the filter selects
parsers=(
  "event JSON|-p openclaw-dingtalk --lib|properties::the_event_parser|2"
  "SSE|-p openclaw-dingtalk --lib|properties::sse_ properties::an_sse_|2"
  "manifest + interpolation|-p openclaw-dingtalk --lib|properties::the_manifest_loader properties::any_secret|2"
  "card markdown|-p openclaw-dingtalk --lib|properties::split_points properties::card_markdown|2"
  "Stream frames|-p openclaw-skill --bin openclaw-skill|frames::tests|3"
  "callback headers|-p openclaw-skill --bin openclaw-skill|signature::tests::prop|2"
)

echo "building the property tests (release)..."
cargo test --release -p openclaw-dingtalk --lib --no-run -q
cargo test --release -p openclaw-skill --bin openclaw-skill --no-run -q

soak() {
  local name=$1 args=$2 filters=$3 props=$4 log=$5
  local started=$SECONDS rounds=0
  local listed
  # shellcheck disable=SC2086
  listed=$(cargo test --release -q $args -- $filters --list 2>/dev/null || true)
  if ! grep -q ': test' <<<"$listed"; then
    echo "$name|0|0|no properties" >"$log.result"
    return 0
  fi
  while ((SECONDS - started < budget)); do
    # shellcheck disable=SC2086
    if ! OCDT_PROPTEST_CASES=$cases_per_round cargo test --release -q $args -- $filters >>"$log" 2>&1; then
      echo "$name|$rounds|$((rounds * cases_per_round * props))|FAILED" >"$log.result"
      return 1
    fi
    rounds=$((rounds + 1))
  done
  echo "$name|$rounds|$((rounds * cases_per_round * props))|ok" >"$log.result"
}

pids=()
for i in "${!parsers[@]}"; do
  IFS='|' read -r name args filters props <<<"${parsers[$i]}"
  soak "$name" "$args" "$filters" "$props" "$out/$i" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

printf '\n%-26s %8s %12s  %s\n' "parser" "rounds" "cases" "result"
for i in "${!parsers[@]}"; do
  IFS='|' read -r name rounds cases result <"$out/$i.result"
  printf '%-26s %8s %12s  %s\n' "$name" "$rounds" "$cases" "$result"
  if [ "$result" = FAILED ]; then
    echo "--- $name log:"; tail -40 "$out/$i"
  fi
done
printf '(%d minute(s) per parser, %d cases per property per round)\n' "$minutes" "$cases_per_round"
exit $status
