#!/usr/bin/env bash
# `tollgate secrets audit` over a repository of 5,000 files (1,000 SOPS-encrypted Secrets,
# 4,000 manifests of two documents), no key: whole process, median of RUNS, peak RSS.
# Usage: scripts/bench-secrets.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
recipient=$(grep -o 'age1[0-9a-z]*' "$root/fixtures/sops/TEST-ONLY-age-key.txt" | head -n 1)
mkdir "$work/sealed"
for k in $(seq 0 49); do
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: ns-%s\nstringData:\n  password: not-a-real-password\n  user: app\n' "$k" > "$work/sealed/ns-$k.yaml"
  "$tg" sops encrypt --age "$recipient" --encrypted-regex '^(data|stringData)$' -i "$work/sealed/ns-$k.yaml"
done
python3 "$root/scripts/gen-secrets-repo.py" 5000 "$work/repo" "$work/sealed" "$recipient"

. "$root/scripts/measure.sh"

summary=$({ "$tg" secrets audit --format json "$work/repo" || true; } | python3 -c 'import json,sys,collections; d=json.load(sys.stdin); print(d["summary"]["files"], d["summary"]["resources"], dict(collections.Counter(f["rule_id"] for f in d["findings"])))')
echo "secrets audit: $summary (files, resources, findings per rule)"
printf '| run | wall s | peak RSS MiB |\n|---|---|---|\n'
row() {
  local label=$1; shift
  read -r t m < <(measure "$@")
  awk -v l="$label" -v t="$t" -v m="$m" 'BEGIN { printf "| %s | %.3f | %.0f |\n", l, t, m / 1024 }'
}
row "secrets audit, 5,000 files (1,000 SOPS), no key" "$tg" secrets audit --format json "$work/repo"
row "secrets audit, same, --verify-mac with the key" env SOPS_AGE_KEY_FILE="$root/fixtures/sops/TEST-ONLY-age-key.txt" "$tg" secrets audit --verify-mac --format json "$work/repo"
