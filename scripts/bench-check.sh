#!/usr/bin/env bash
# `tollgate check` on 10,000 generated manifests with 25 conftest-style rules: wall time
# (median of RUNS) and peak RSS on 1 and 2 threads, then checkov on the same directory.
# Usage: scripts/bench-check.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/scripts/gen-manifests.py" 10000 "$work/manifests"

. "$root/scripts/measure.sh"

findings=$({ "$tg" check --format json --policy "$root/benches/policies" "$work/manifests" || true; } | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["findings"]), d["summary"]["resources"])')
echo "tollgate: ${findings% *} findings on ${findings#* } resources"
printf '| run | wall s | peak RSS MiB |\n|---|---|---|\n'
for threads in 1 2; do
  read -r t m < <(RAYON_NUM_THREADS=$threads measure "$tg" check --format json --policy "$root/benches/policies" "$work/manifests")
  awk -v n="$threads" -v t="$t" -v m="$m" 'BEGIN { printf "| tollgate check, %d thread(s) | %.2f | %.0f |\n", n, t, m / 1024 }'
done
checkov=$("$root/scripts/install-checkov.sh" | tail -n 1)
runs=1 read -r t m < <(runs=1; measure "$checkov" -d "$work/manifests" --framework kubernetes --quiet --compact -o json)
awk -v t="$t" -v m="$m" 'BEGIN { printf "| checkov -d --framework kubernetes (its own ~170 built-in checks) | %.2f | %.0f |\n", t, m / 1024 }'
