#!/usr/bin/env bash
# Installs tollgate (into .tools/bin) and runs its main job on the demo GitOps repository in
# fixtures/demo: which SOPS files drifted from .sops.yaml, a secret read back (and handed to a
# command through a FIFO, as a CI step would, the plaintext never on disk), the secrets
# audit (drifted recipients, a Secret committed without sops, a credential in an env value),
# the repository checked as the cluster receives it (every Kustomize overlay and Flux
# Kustomization rendered, findings on the source files) against the demo policy and the
# built-in image, Pod Security baseline, RBAC and NetworkPolicy checks, then asked who can
# read its Secrets and what may reach it; the admission webhook's answer to the same
# Deployment, offline; last, image signatures: two images pushed to a local registry (Debian's
# docker-registry), one signed in cosign's format with the TEST-ONLY key, verified online, then
# again offline from the cache once the registry is gone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-test-tools.sh" > /dev/null
cargo install --quiet --locked --force --path "$root" --root "$root/.tools"
export PATH="$root/.tools/bin:$root/.tools/venv/bin:$PATH"
export SOPS_AGE_KEY_FILE="$root/fixtures/sops/TEST-ONLY-age-key.txt"
cd "$root/fixtures/demo"
rendered=$(mktemp -d)
. "$root/scripts/registry.sh"
trap '{ set +x; } 2> /dev/null; stop_registry; rm -rf "$rendered"' EXIT
set -x
tollgate sops updatekeys --recursive --dry-run .
tollgate sops decrypt --extract '["stringData"]["DB_HOST"]' clusters/staging/secrets/podinfo-db.yaml
tollgate sops exec-file --output-type json clusters/staging/secrets/podinfo-db.yaml \
  'python3 -c "import json, sys; print(sorted(json.load(open(sys.argv[1]))[\"stringData\"]))" {}'
set +e
tollgate secrets audit --format short .
echo "tollgate secrets audit exit code: $? (1: recipients drifted, a plaintext Secret, a webhook URL in an env value; the tollgate-secrets hook blocks such a commit)"
tollgate check --render --policy policy --pack images --pack pss-baseline --pack rbac --pack netpol --format human .
echo "tollgate check exit code: $? (1: findings at or above --fail-on error)"
set -e
kubectl kustomize apps/production > "$rendered/production.yaml"
tollgate rbac who-can get secrets --namespace podinfo-production "$rendered/production.yaml"
tollgate netpol reach 203.0.113.7 podinfo-production/podinfo --port http "$rendered/production.yaml"
# What the admission webhook answers when Flux applies the same Deployment (exit 1: denied).
tollgate webhook review admission/podinfo-create.json --policy policy || echo "tollgate webhook review exit code: $?"
# Image signatures, as CI and admission check them (`images.signatures` in tollgate.yaml asks
# the same of every image in the manifests): exit 1, the second image is not signed.
export XDG_CACHE_HOME="$rendered/cache"
set +x
start_registry "$rendered/registry"
python3 "$root/scripts/oci-push.py" --registry "$REGISTRY" --sign "$root/fixtures/images/keys/cosign.key" podinfo/podinfo:6.7.1
python3 "$root/scripts/oci-push.py" --registry "$REGISTRY" podinfo/podinfo:6.7.2
set -x
tollgate images verify --key "$root/fixtures/images/keys/cosign.pub" --allow-insecure-registry "$REGISTRY" \
  "$REGISTRY/podinfo/podinfo:6.7.1" "$REGISTRY/podinfo/podinfo:6.7.2" || echo "tollgate images verify exit code: $?"
{ set +x; } 2> /dev/null
stop_registry
set -x
# The registry is gone: what the cache verified still verifies; nothing else passes.
tollgate images verify --offline --key "$root/fixtures/images/keys/cosign.pub" \
  "$REGISTRY/podinfo/podinfo:6.7.1" "$REGISTRY/podinfo/podinfo:6.7.2" || echo "tollgate images verify --offline exit code: $?"
