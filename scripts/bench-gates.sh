#!/usr/bin/env bash
# The git and CI gates, whole processes (median of RUNS, peak RSS):
#  - rendering: `tollgate check --render` on 200 Kustomize overlays (all rendered in parallel,
#    findings mapped to the sources), beside what a pipeline without --render does: a loop of
#    `kubectl kustomize ROOT | tollgate check -`, one root after the other;
#  - `--new-since`: `tollgate check --new-since main` on a 10,000-manifest git repository whose
#    branch changed 10 files, beside a plain check of the same tree (target: under 2x).
# Usage: scripts/bench-gates.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
"$root/scripts/install-test-tools.sh" > /dev/null
export TOLLGATE_KUSTOMIZE="$root/.tools/venv/bin/kubectl"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/scripts/gen-kustomize.py" 200 "$work/kustomize"
python3 "$root/scripts/gen-manifests.py" 10000 "$work/repo/manifests"

. "$root/scripts/measure.sh"

git_() { git -C "$work/repo" -c user.name=bench -c user.email=bench@example.invalid "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -qm base
git_ checkout -qb feature
# The branch: 10 files changed (an image tag in each), as a pull request touches a few.
for f in $(cd "$work/repo" && git ls-files | head -n 10); do
  sed -i 's/image: \(.*\):\([^@ ]*\)$/image: \1:latest/' "$work/repo/$f"
done
git_ commit -qam change

# What a pipeline without --render does, one root after the other (a script of its own, so
# its peak RSS is measured too).
loop=(bash -c 'for d in "$0"/overlays/*; do "$1" kustomize "$d" | "$2" check --format json --pack k8s - > /dev/null || true; done' "$work/kustomize" "$TOLLGATE_KUSTOMIZE" "$tg")

echo "render: $("$tg" check --render --format json --pack k8s "$work/kustomize" | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(s["rendered_roots"], "roots,", s["resources"], "resources,", sum(s["findings"].values()), "findings")')"
echo "new-since: $(cd "$work/repo" && "$tg" check --new-since main --format json --pack k8s --pack rbac --pack netpol . | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(sum(s["findings"].values()), "new findings,", s["suppressed"], "known")')"
printf '| run | wall s | peak RSS MiB |\n|---|---|---|\n'
row() {
  local label=$1; shift
  read -r t m < <(measure "$@")
  awk -v l="$label" -v t="$t" -v m="$m" 'BEGIN { printf "| %s | %.3f | %.0f |\n", l, t, m / 1024 }'
}
row "check --render, 200 overlays (k8s pack)" "$tg" check --render --format json --pack k8s "$work/kustomize"
row "loop: kubectl kustomize ROOT \| tollgate check -, 200 overlays" "${loop[@]}"
cd "$work/repo"
row "check, 10,000 manifests, k8s + rbac + netpol" "$tg" check --format json --pack k8s --pack rbac --pack netpol .
row "check --new-since main, same tree, 10 files changed" "$tg" check --new-since main --format json --pack k8s --pack rbac --pack netpol .
