#!/usr/bin/env bash
# CEL policies, whole processes (median of RUNS, peak RSS): every CEL policy of the
# kyverno/policies corpus that runs offline (ValidatingPolicy and validate.cel ClusterPolicy
# files that select Pods or Deployments) over 10,000 generated objects (5,000 Pods, 5,000
# Deployments), beside the classic JMESPath twins of the same policies (same leaf name).
# Needs ../shared/corpus. Usage: scripts/bench-cel.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
corpus="$root/../shared/corpus"
[ -d "$corpus/kyverno-policies-cel" ] || { echo "no corpus at $corpus" >&2; exit 2; }
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$corpus" "$work" <<'PY'
import os, re, shutil, sys
corpus, work = sys.argv[1], sys.argv[2]
cel, classic = os.path.join(work, "cel"), os.path.join(work, "classic")
os.makedirs(cel); os.makedirs(classic)
external = re.compile(r"resource\.(Get|List)|image\.GetMetadata|http\.|globalContext|authorizer\.")
picked = 0
twins = 0
for top in sorted(os.listdir(os.path.join(corpus, "kyverno-policies-cel"))):
    base = os.path.join(corpus, "kyverno-policies-cel", top)
    for dirpath, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.endswith(".yaml"):
                continue
            text = open(os.path.join(dirpath, f)).read()
            if not re.search(r"kind: (ValidatingPolicy|ClusterPolicy)", text) or external.search(text):
                continue
            if not re.search(r"\b(pods|Pod|deployments|Deployment)\b", text):
                continue
            picked += 1
            name = f"{top}-{f}"
            shutil.copy(os.path.join(dirpath, f), os.path.join(cel, name))
            # The classic twin: same leaf in the classic corpus's category without the suffix.
            cat = re.sub(r"-(cel|vpol)$", "", top)
            rel = os.path.relpath(dirpath, base)
            twin = os.path.join(corpus, "kyverno-policies", cat, rel, f)
            if os.path.exists(twin) and not os.path.exists(os.path.join(classic, f"{cat}-{f}")):
                shutil.copy(twin, os.path.join(classic, f"{cat}-{f}"))
                twins += 1
print(f"{picked} CEL policy files, {twins} classic twins")
res = os.path.join(work, "objects")
os.makedirs(res)
for b in range(100):
    docs = []
    for i in range(50):
        n = b * 50 + i
        priv = "true" if n % 9 == 0 else "false"
        sc = f"\n      securityContext:\n        allowPrivilegeEscalation: {priv}\n        runAsNonRoot: true"
        c = (f"    - name: app\n      image: registry.example.com/app:1.{n % 20}.0{sc}\n"
             f"      resources:\n        requests: {{cpu: 100m, memory: 64Mi}}\n        limits: {{memory: 64Mi}}\n")
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{n}\n  namespace: ns-{n % 20}\n"
                    f"  labels: {{app: a{n}}}\nspec:\n  containers:\n{c}")
        t = c.replace("\n    ", "\n        ").replace("    - name", "        - name", 1)
        docs.append(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: deploy-{n}\n  namespace: ns-{n % 20}\n"
                    f"spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: a{n}}}\n  template:\n"
                    f"    metadata:\n      labels: {{app: a{n}}}\n    spec:\n      containers:\n{t}")
    open(os.path.join(res, f"objects-{b}.yaml"), "w").write("---\n".join(docs))
PY
. "$root/scripts/measure.sh"
count() { { "$tg" check --format json --policy "$1" "$work/objects" 2>/dev/null || true; } | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["summary"]["resources"], len(d["findings"]))'; }
read -r n f < <(count "$work/cel")
echo "cel: $n resources, $f findings"
read -r n f < <(count "$work/classic")
echo "classic twins: $n resources, $f findings"
printf '| run | wall s | peak RSS MiB |\n|---|---|---|\n'
row() {
  local label=$1; shift
  read -r t m < <(measure "$@")
  awk -v l="$label" -v t="$t" -v m="$m" 'BEGIN { printf "| %s | %.3f | %.0f |\n", l, t, m / 1024 }'
}
row "check, CEL policies, 10,000 Pods and Deployments" "$tg" check --format json --policy "$work/cel" "$work/objects"
row "check, classic JMESPath twins, same objects" "$tg" check --format json --policy "$work/classic" "$work/objects"
