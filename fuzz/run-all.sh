#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, one after the other on one core,
# seeded from fuzz/regressions/<target> (and the SOPS fixtures for the YAML and SOPS readers), and prints one line per
# target: exit code, seconds, runs. Needs cargo-fuzz (cargo install cargo-fuzz) and a nightly
# or RUSTC_BOOTSTRAP=1.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null 2>&1 || { echo "cargo fuzz build failed" >&2; exit 2; }
bin=target/x86_64-unknown-linux-gnu/release
status=0
for t in kyverno_jmespath kyverno_functions field_path yaml_reader sops_parser; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "regressions/$t" ] && seeds+=("regressions/$t")
  case $t in yaml_reader|sops_parser) seeds+=(../fixtures/sops) ;; esac
  log="corpus/$t.log"
  start=$(date +%s)
  "$bin/$t" "corpus/$t" "${seeds[@]}" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 >"$log" 2>&1
  code=$?
  [ "$code" -eq 0 ] || status=1
  echo "$t exit=$code seconds=$(( $(date +%s) - start )) $(grep -E 'Done [0-9]+ runs' "$log" | tail -1)"
done
exit $status
