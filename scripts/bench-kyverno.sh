#!/usr/bin/env bash
# Kyverno policies in `tollgate check`: every policy of the dev corpus
# (../shared/corpus/kyverno-policies, the policies its kyverno-test.yaml files name) over 10,000
# generated Pods and Deployments. Wall time (median of RUNS) and peak RSS on 1 and 2 threads,
# and rule evaluations per second (resources x rules, autogen rules included); the JSON report
# on 1 and 2 threads, then SARIF (the code-scanning upload) on 2.
# Usage: scripts/bench-kyverno.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
corpus="$root/../shared/corpus/kyverno-policies"
[ -d "$corpus" ] || { echo "no corpus at $corpus" >&2; exit 2; }
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/scripts/gen-pods.py" 10000 "$work/workloads"
python3 "$root/scripts/corpus-policies.py" "$corpus" "$work/policies"

. "$root/scripts/measure.sh"

read -r rules findings resources < <({ "$tg" check --format sarif --policy "$work/policies" "$work/workloads" 2> /dev/null || true; } \
  | python3 -c 'import json,sys; d=json.load(sys.stdin)["runs"][0]; print(len(d["tool"]["driver"]["rules"]), len(d["results"]), 10000)')
echo "tollgate: $rules Kyverno rules, $findings findings on $resources resources"
printf '| run | wall s | peak RSS MiB | rule evaluations/s |\n|---|---|---|---|\n'
for run in "json 1" "json 2" "sarif 2"; do
  read -r format threads <<< "$run"
  read -r t m < <(RAYON_NUM_THREADS=$threads measure "$tg" check --format "$format" --policy "$work/policies" "$work/workloads")
  awk -v f="$format" -v n="$threads" -v t="$t" -v m="$m" -v r="$rules" -v res="$resources" \
    'BEGIN { printf "| tollgate check --format %s, %d thread(s) | %.2f | %.0f | %.0f |\n", f, n, t, m / 1024, r * res / t }'
done
