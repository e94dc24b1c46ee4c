#!/usr/bin/env bash
# Installs tollgate (into .tools/bin) and runs its main job on the demo GitOps repository in
# fixtures/demo: which SOPS files drifted from .sops.yaml, then reading one secret back.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo install --quiet --locked --path "$root" --root "$root/.tools"
export PATH="$root/.tools/bin:$PATH"
export SOPS_AGE_KEY_FILE="$root/fixtures/sops/TEST-ONLY-age-key.txt"
cd "$root/fixtures/demo"
set -x
tollgate sops updatekeys --recursive --dry-run .
tollgate sops status clusters/production/secrets/podinfo-db.yaml
tollgate sops decrypt --extract '["stringData"]["DB_HOST"]' clusters/staging/secrets/podinfo-db.yaml
