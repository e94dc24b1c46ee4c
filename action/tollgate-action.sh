#!/usr/bin/env bash
# The steps of action.yml, runnable outside GitHub (tests/action.rs runs them locally):
#   install  builds tollgate from the action's checkout into $RUNNER_TEMP, unless a tollgate of
#            the same version is already on PATH, and adds it to $GITHUB_PATH;
#   check    runs `tollgate check` with the inputs (INPUT_* variables), GitHub annotations on
#            stdout and SARIF to a file, `--new-since` the base branch on pull requests, and
#            writes exit-code and sarif-file to $GITHUB_OUTPUT. Exits with tollgate's code.
set -euo pipefail
action_root=$(cd "$(dirname "$0")/.." && pwd)

version_of_action() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$action_root/Cargo.toml" | head -n 1
}

install() {
  local want have
  want=$(version_of_action)
  have=$(tollgate --version 2>/dev/null | awk '{print $2}' || true)
  if [ -n "$have" ] && [ "$have" = "$want" ]; then
    echo "tollgate $have is on PATH"
    return
  fi
  local root="${RUNNER_TEMP:-/tmp}/tollgate"
  cargo install --quiet --locked --path "$action_root" --root "$root"
  echo "$root/bin" >> "${GITHUB_PATH:-/dev/null}"
  echo "installed tollgate $want into $root/bin"
}

check() {
  local args=(check)
  local since="${INPUT_NEW_SINCE:-}"
  if [ -z "$since" ] && [ "${GITHUB_EVENT_NAME:-}" = "pull_request" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then
    since="origin/$GITHUB_BASE_REF"
    # A shallow checkout may lack the base branch and the merge base.
    if ! git rev-parse --verify --quiet "$since" > /dev/null; then
      git fetch --quiet --no-tags origin "+refs/heads/$GITHUB_BASE_REF:refs/remotes/origin/$GITHUB_BASE_REF"
    fi
    if ! git merge-base "$since" HEAD > /dev/null 2>&1; then
      git fetch --quiet --no-tags --unshallow origin 2> /dev/null || git fetch --quiet --no-tags --deepen=200 origin
    fi
  fi
  if [ -n "$since" ] && [ "$since" != "none" ]; then
    args+=(--new-since "$since")
  fi
  if [ "${INPUT_RENDER:-true}" = "true" ]; then
    args+=(--render)
  fi
  local p
  for p in ${INPUT_POLICY:-}; do
    args+=(--policy "$p")
  done
  local sarif="${INPUT_SARIF_FILE:-tollgate.sarif}"
  args+=(--fail-on "${INPUT_FAIL_ON:-error}" --format github --format sarif --output "$sarif")
  # shellcheck disable=SC2206 # paths are space-separated by contract
  local paths=(${INPUT_PATHS:-.})
  set +e
  tollgate "${args[@]}" "${paths[@]}"
  local code=$?
  set -e
  {
    echo "exit-code=$code"
    if [ -f "$sarif" ]; then echo "sarif-file=$sarif"; fi
  } >> "${GITHUB_OUTPUT:-/dev/null}"
  return "$code"
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  *) echo "usage: $0 install|check" >&2; exit 2 ;;
esac
