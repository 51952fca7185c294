#!/usr/bin/env bash
# Re-record the captures the graph tests read (captures/graph-*.json) from the real engine.
#
#   scripts/record_graph_captures.sh               the project engine (scripts/engine.sh)
#   scripts/record_graph_captures.sh --old-engine  also Docker 26.1.5 (BuildKit v0.13.2) from
#                                                  Debian trixie, started in a private dir with
#                                                  its own bridge, then stopped
#
# Needs the engine of scripts/engine.sh (started if it is not running) with the images
# busybox:local and golang:local. Writes:
#
#   captures/graph-busybox.json            tests/graph/data/joined/busybox: one platform, two
#                                          stages, COPY, a cache-mount RUN, COPY --from, image output
#   captures/graph-platform-collapse.json  tests/scenarios/platform-collapse: linux/amd64+arm64,
#                                          the compile step shared by both platforms
#   captures/graph-clean-go-multiarch.json tests/scenarios/clean-go-multiarch: the same, done right
#   captures/graph-*-docker26.json         busybox and platform-collapse on the older engine
set -euo pipefail
OLD=0
[ "${1:-}" = "--old-engine" ] && OLD=1

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$HERE/.venv/bin/python}
CT=${CACHETRACE:-$HERE/.venv/bin/cachetrace}

bash "$HERE/scripts/engine.sh" up >/dev/null
eval "$(bash "$HERE/scripts/engine.sh" env)"
cd "$HERE"
mkdir -p captures
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

record() {  # SUFFIX SCENARIO...
  local suffix=$1 s
  shift
  D=tests/graph/data/joined/busybox
  echo "record: graph-busybox$suffix" >&2
  "$CT" record -q -o "captures/graph-busybox$suffix.json" -- \
    docker buildx build --progress=plain -t ct-graph-busybox:1 -f "$D/Dockerfile" "$D"
  for s in "$@"; do
    echo "record: graph-$s$suffix" >&2
    "$PY" -m tests.scenarios.runner --out "$OUT/$suffix" \
      --prefix "$CT record -q -o captures/graph-$s$suffix.json --" "$s"
  done
}

record "" platform-collapse clean-go-multiarch

if [ "$OLD" = 1 ]; then
  export CACHETRACE_ENGINE_DIR=${CACHETRACE_OLD_ENGINE_DIR:-/tmp/cachetrace-graph-old-engine}
  export CACHETRACE_ENGINE_SUITES=trixie CACHETRACE_ENGINE_BRIDGE=ctbr8
  export CACHETRACE_ENGINE_BRIDGE_CIDR=172.31.0.1/16
  bash "$HERE/scripts/engine.sh" up >/dev/null
  trap 'bash "$HERE/scripts/engine.sh" down >/dev/null; rm -rf "$OUT"' EXIT
  eval "$(bash "$HERE/scripts/engine.sh" env)"
  record -docker26 platform-collapse
fi
echo "record: wrote $(ls captures/graph-*.json | tr '\n' ' ')" >&2
