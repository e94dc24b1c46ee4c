#!/usr/bin/env bash
# Installs checkov (PyPI) into .tools/checkov-venv for the manifest-scanning benchmark only;
# the tests do not need it. Prints the checkov path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/checkov-venv"
if [ ! -x "$venv/bin/checkov" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check checkov
fi
echo "$venv/bin/checkov"
