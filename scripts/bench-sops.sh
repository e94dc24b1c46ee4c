#!/usr/bin/env bash
# Whole-process comparison with Go sops on one 2,000-document manifest (10,000 values):
# encrypt and decrypt, wall time (median of RUNS) and peak RSS, both tools in the same run;
# once with an age recipient, once with a PGP key of a temporary GnuPG home (GnuPG decrypts
# the data key for both tools through gpg-agent, as it does for users).
# Usage: scripts/bench-sops.sh [RUNS]   (writes a Markdown table to stdout)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
sops_bin=$("$root/scripts/install-test-tools.sh" | tail -n 1)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
tg="${CARGO_TARGET_DIR:-$root/target}/release/tollgate"
work=$(mktemp -d)
trap 'GNUPGHOME="$work/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
python3 "$root/scripts/gen-manifest.py" 2000 > "$work/plain.yaml"
key="$root/fixtures/sops/TEST-ONLY-age-key.txt"
r1=age1u5z3s42j4q7wngqqk75ep99mttyff7vuy5l0w35mg8me9qskps0sxsldyu
export SOPS_AGE_KEY_FILE="$key"
"$sops_bin" encrypt --age "$r1" "$work/plain.yaml" > "$work/sops.enc.yaml"
"$tg" sops encrypt --age "$r1" "$work/plain.yaml" > "$work/tg.enc.yaml"

. "$root/scripts/measure.sh"

# rows LABEL FILE_STEM KEY_FLAG KEY: the decrypt and encrypt rows for one key type; each tool
# decrypts the file it encrypted itself ($work/sops.STEM.yaml, $work/tg.STEM.yaml).
rows() {
  local label=$1 stem=$2 flag=$3 recipient=$4 op st sm tt tm
  for op in decrypt encrypt; do
    if [ "$op" = decrypt ]; then
      read -r st sm < <(measure "$sops_bin" decrypt "$work/sops.$stem.yaml")
      read -r tt tm < <(measure "$tg" sops decrypt "$work/tg.$stem.yaml")
    else
      read -r st sm < <(measure "$sops_bin" encrypt "$flag" "$recipient" "$work/plain.yaml")
      read -r tt tm < <(measure "$tg" sops encrypt "$flag" "$recipient" "$work/plain.yaml")
    fi
    awk -v op="$op$label" -v st="$st" -v tt="$tt" -v sm="$sm" -v tm="$tm" \
      'BEGIN { printf "| %s | %.2f | %.3f | %.1fx | %.0f | %.0f |\n", op, st, tt, (tt > 0 ? st / tt : 0), sm / 1024, tm / 1024 }'
  done
}

printf '| operation | sops s | tollgate s | speed-up | sops peak RSS MiB | tollgate peak RSS MiB |\n|---|---|---|---|---|---|\n'
rows "" enc --age "$r1"

# PGP: a key without passphrase in a private home; each tool decrypts its own file.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'tollgate bench <bench@example.invalid>' future-default default never 2>/dev/null
fp=$(gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/ { print $10; exit }')
"$sops_bin" encrypt --pgp "$fp" "$work/plain.yaml" > "$work/sops.pgp.yaml"
"$tg" sops encrypt --pgp "$fp" "$work/plain.yaml" > "$work/tg.pgp.yaml"
# A failing decrypt would be timed too: check first that both open both files alike.
for f in sops tg; do
  cmp -s <("$sops_bin" decrypt "$work/$f.pgp.yaml") <("$tg" sops decrypt "$work/$f.pgp.yaml") \
    || { echo "bench-sops: the tools disagree on $f.pgp.yaml" >&2; exit 1; }
done
rows " (pgp)" pgp --pgp "$fp"
