# Sourced by the demo and the image benchmark: `start_registry DIR` starts Debian's
# docker-registry (installed by scripts/install-test-tools.sh) on a free port of 127.0.0.1
# with its storage under DIR, waits until it answers, and sets REGISTRY (HOST:PORT) and
# REGISTRY_PID; `stop_registry` stops it.
start_registry() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/data"
  printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' "$dir/data" "$port" > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  REGISTRY_PID=$!
  REGISTRY="127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fs "http://$REGISTRY/v2/" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "docker-registry did not start (see $dir/log)" >&2
  return 1
}
stop_registry() {
  if [ -n "${REGISTRY_PID:-}" ]; then
    kill "$REGISTRY_PID" 2> /dev/null || true
    wait "$REGISTRY_PID" 2> /dev/null || true
  fi
  REGISTRY_PID=""
}
