#!/usr/bin/env bash
# Kyverno conformance: runs `tollgate test` (strict) on the public kyverno/policies tests in
# ../shared/corpus/kyverno-policies and fails when fewer expectations pass than the floor.
# The corpus is not part of the repository; without it this prints a note and succeeds.
# Usage: scripts/kyverno-conformance.sh [FLOOR]   (default: the floor below)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# 1,343 of 1,349 pass; docs/conformance.md lists the six that do not and why.
floor=${1:-1343}
corpus="$root/../shared/corpus/kyverno-policies"
if [ ! -d "$corpus" ]; then
  echo "kyverno conformance: no corpus at $corpus, skipped"
  exit 0
fi
cargo build --quiet --locked --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/debug/tollgate"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$tg" test --format json "$corpus" > "$report" || true
read -r passed failed total < <(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
print(t["passed"], t["failed"], t["passed"] + t["failed"] + t["skipped"])' "$report")
echo "kyverno conformance: $passed of $total expectations pass ($failed fail), floor $floor"
if [ "$passed" -lt "$floor" ]; then
  "$tg" test "$corpus" | grep '^FAIL' >&2 || true
  echo "kyverno conformance regressed below the floor" >&2
  exit 1
fi
