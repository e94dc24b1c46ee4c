#!/usr/bin/env bash
# Image signature checks, whole processes (median of RUNS, peak RSS): `tollgate check` over
# 1,000 Deployments referencing 100 distinct images, each pushed to a local docker-registry and
# signed in cosign's format, with an images.signatures rule covering them: cold cache (emptied
# before every run: 100 tag resolutions and signature fetches), warm cache, and the same check
# without the signature rule.
# Usage: scripts/bench-images.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
. "$root/scripts/registry.sh"
trap 'stop_registry; rm -rf "$work"' EXIT
start_registry "$work/registry"
refs=$(for i in $(seq 0 99); do echo "bench/app-$i:v1"; done)
# shellcheck disable=SC2086
python3 "$root/scripts/oci-push.py" --registry "$REGISTRY" --sign "$root/fixtures/images/keys/cosign.key" $refs > /dev/null
mkdir -p "$work/repo/manifests"
cp "$root/fixtures/images/keys/cosign.pub" "$work/repo/"
printf 'packs: [images]\nimages:\n  insecure_registries: ["%s"]\n  signatures:\n    - match: ["%s/bench/*"]\n      keys: [cosign.pub]\n' "$REGISTRY" "$REGISTRY" > "$work/repo/tollgate.yaml"
printf 'packs: [images]\n' > "$work/plain.yaml"
python3 - "$REGISTRY" "$work/repo/manifests" <<'PY'
import sys
host, out = sys.argv[1], sys.argv[2]
for i in range(1000):
    with open(f"{out}/deploy-{i}.yaml", "w") as f:
        f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: ns-{i % 20}}}
spec:
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      containers:
        - name: app
          image: {host}/bench/app-{i % 100}:v1
""")
PY
cd "$work/repo"
export XDG_CACHE_HOME="$work/cache"
. "$root/scripts/measure.sh"
findings=$({ "$tg" check --format json manifests || true; } | python3 -c 'import json,sys,collections; d=json.load(sys.stdin); print(d["summary"]["resources"], dict(collections.Counter(f["rule_id"] for f in d["findings"])))')
echo "check: ${findings%% *} resources; findings by rule: ${findings#* } (no IMG007/IMG008: every image verified)"
printf '| run | wall s | peak RSS MiB |\n|---|---|---|\n'
row() {
  local label=$1; shift
  read -r t m < <(measure "$@")
  awk -v l="$label" -v t="$t" -v m="$m" 'BEGIN { printf "| %s | %.3f | %.0f |\n", l, t, m / 1024 }'
}
row "check, 1,000 Deployments, 100 signed images, cold cache" bash -c "rm -rf '$work/cache'; exec '$tg' check --format json manifests"
"$tg" check --format json manifests > /dev/null || true
row "check, same, warm cache" "$tg" check --format json manifests
row "check, same, no signature rule" "$tg" check --config "$work/plain.yaml" --format json manifests
