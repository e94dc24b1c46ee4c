#!/usr/bin/env bash
# The built-in checks and queries, whole processes (median of RUNS, peak RSS):
#  - `tollgate check` on the 10,000 manifests of bench-check.sh plus 250 NetworkPolicies,
#    with the bundled Rego pack and every built-in check (every pack), and with the
#    three packs of the first measurement (--pack k8s --pack rbac --pack netpol);
#  - `tollgate rbac who-can` over 5,000 roles and bindings;
#  - `tollgate netpol reach` over 2,000 workloads and 1,000 NetworkPolicies.
# Usage: scripts/bench-builtin.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/scripts/gen-manifests.py" 10000 "$work/manifests"
python3 "$root/scripts/gen-inventory.py" netpol 0 250 "$work/manifests/policies"
python3 "$root/scripts/gen-inventory.py" rbac 5000 "$work/rbac"
python3 "$root/scripts/gen-inventory.py" netpol 2000 1000 "$work/netpol"

. "$root/scripts/measure.sh"

summary=$({ "$tg" check --format json "$work/manifests" || true; } | python3 -c 'import json,sys,collections; d=json.load(sys.stdin); c=collections.Counter(f["engine"] for f in d["findings"]); print(d["summary"]["resources"], dict(sorted(c.items())))')
echo "check: ${summary%% *} resources; findings per engine: ${summary#* }"
echo "who-can: $("$tg" rbac who-can get secrets --format json "$work/rbac" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["subjects"]))') subjects may get secrets"
echo "reach: $("$tg" netpol reach ns-1/app-1 ns-2/app-52 --port http --format json "$work/netpol" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("allowed" if d["allowed"] else "denied", len(d["ingress"]["isolated_by"]), "policies isolate the destination")')"
printf '| run | wall s | peak RSS MiB |\n|---|---|---|\n'
row() {
  local label=$1; shift
  read -r t m < <(measure "$@")
  awk -v l="$label" -v t="$t" -v m="$m" 'BEGIN { printf "| %s | %.3f | %.0f |\n", l, t, m / 1024 }'
}
row "check, 10,000 manifests + 250 policies, every pack" "$tg" check --format json "$work/manifests"
row "check, same, k8s + rbac + netpol" "$tg" check --format json --pack k8s --pack rbac --pack netpol "$work/manifests"
row "rbac who-can get secrets, 5,000 roles and bindings" "$tg" rbac who-can get secrets "$work/rbac"
row "rbac explain Group/team-3, same" "$tg" rbac explain Group/team-3 "$work/rbac"
row "netpol reach, 2,000 workloads, 1,000 policies" "$tg" netpol reach ns-1/app-1 ns-2/app-52 --port http "$work/netpol"
