#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the test peers, checks formatting and
# lints, then runs every test (unit, CLI contract, interop with the real Go sops).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export TOLLGATE_SOPS_BIN
TOLLGATE_SOPS_BIN=$(scripts/install-test-tools.sh | tail -n 1)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
# Kyverno conformance on the shared corpus, when the checkout has it (a floor, not a snapshot).
scripts/kyverno-conformance.sh
