#!/usr/bin/env bash
# The admission webhook under load: the server on 127.0.0.1 with TLS, the dev Kyverno
# policies (the 128 the corpus's kyverno-test.yaml files name) plus the bundled pack loaded,
# driven by h2load (Debian nghttp2-client, installed here if missing) over HTTP/2 with
# keep-alive: p50/p99 latency at 500 requests/s, the highest throughput, and the server's peak
# RSS. The review is a CREATE of a Deployment that several rules deny. With `signed`, its image
# comes from a local docker-registry, signed in cosign's format, and an images.signatures rule
# covers it: after the warm-up every request verifies it from the shared cache.
# Usage: scripts/bench-webhook.sh [REQUESTS [signed]]   (default 10000 at 500 req/s)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
requests=${1:-10000}
signed=${2:-}
corpus="$root/../shared/corpus/kyverno-policies"
[ -d "$corpus" ] || { echo "no corpus at $corpus" >&2; exit 2; }
command -v h2load > /dev/null || { apt-get install -y --no-install-recommends nghttp2-client > /dev/null || sudo apt-get install -y --no-install-recommends nghttp2-client > /dev/null; }
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
server=
. "$root/scripts/registry.sh"
cleanup() { [ -n "$server" ] && kill "$server" 2> /dev/null; stop_registry; rm -rf "$work"; }
trap cleanup EXIT
python3 "$root/scripts/corpus-policies.py" "$corpus" "$work/policies"
image=nginx:latest
config=()
if [ "$signed" = signed ]; then
  start_registry "$work/registry"
  python3 "$root/scripts/oci-push.py" --registry "$REGISTRY" --sign "$root/fixtures/images/keys/cosign.key" shop/web:v1 > /dev/null
  image="$REGISTRY/shop/web:v1"
  cp "$root/fixtures/images/keys/cosign.pub" "$work/"
  printf 'images:\n  insecure_registries: ["%s"]\n  signatures:\n    - match: ["%s/*"]\n      keys: [cosign.pub]\n' "$REGISTRY" "$REGISTRY" > "$work/tollgate.yaml"
  config=(--config "$work/tollgate.yaml" --pack images)
  export XDG_CACHE_HOME="$work/cache"
fi
export BENCH_IMAGE=$image
"$tg" webhook certs --service tollgate --namespace bench --ip 127.0.0.1 --out "$work/certs" > /dev/null
python3 - > "$work/review.json" <<'PY'
import json, os
deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [{"name": "web", "image": os.environ["BENCH_IMAGE"],
        "ports": [{"containerPort": 8080}], "resources": {"requests": {"cpu": "100m"}}}]}}}}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
  "uid": "bench", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
  "namespace": "shop", "name": "web", "operation": "CREATE",
  "userInfo": {"username": "ci", "groups": ["system:authenticated"]}, "object": deployment}}))
PY
"$tg" webhook serve --listen 127.0.0.1:18443 --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
  --policy "$work/policies" --pack k8s "${config[@]}" > /dev/null 2> "$work/server.log" &
server=$!
for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
url="https://127.0.0.1:18443/validate?timeout=10s"
h2() { h2load -H 'content-type: application/json' -d "$work/review.json" "$@" "$url"; }
echo "rules loaded: $(grep -o 'rules=[0-9]*' "$work/server.log" | head -1)"
curl -s -k -X POST --data-binary @"$work/review.json" "$url" | python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print("allowed:", r["allowed"], "| denied by:", r.get("status",{}).get("message","")[:120])'
h2 -n 500 -c 4 > /dev/null  # warm-up
# 500 req/s: 10 connections at 50 req/s each.
h2 -n "$requests" -c 10 --rps 50 --log-file "$work/paced.log" > "$work/paced.txt"
python3 - "$work/paced.log" <<'PY'
import sys
lat = sorted(int(l.split()[2]) / 1000 for l in open(sys.argv[1]) if l.strip())  # microseconds -> ms
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(f"| 500 req/s, {len(lat)} requests | p50 {pct(50):.2f} ms | p99 {pct(99):.2f} ms | max {lat[-1]:.2f} ms |")
PY
h2 -n "$requests" -c 20 -m 4 > "$work/max.txt"
echo "| highest throughput (20 connections x 4 streams) | $(grep -o 'finished in [^,]*, [0-9.]* req/s' "$work/max.txt") | $(grep -o '[0-9]* failed' "$work/max.txt" | head -1) |"
echo "| server peak RSS | $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' /proc/$server/status) |"
