#!/usr/bin/env bash
# Re-record the captures the graph tests read (captures/graph-*.json) from the real engine.
#
#   scripts/record_graph_captures.sh
#
# Needs the engine of scripts/engine.sh (started if it is not running) with the images
# busybox:local and golang:local. Writes:
#
#   captures/graph-busybox.json            tests/graph/data/joined/busybox: one platform, two
#                                          stages, COPY, a cache-mount RUN, COPY --from, image output
#   captures/graph-platform-collapse.json  tests/scenarios/platform-collapse: linux/amd64+arm64,
#                                          the compile step shared by both platforms
#   captures/graph-clean-go-multiarch.json tests/scenarios/clean-go-multiarch: the same, done right
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$HERE/.venv/bin/python}
CT=${CACHETRACE:-$HERE/.venv/bin/cachetrace}

bash "$HERE/scripts/engine.sh" up >/dev/null
eval "$(bash "$HERE/scripts/engine.sh" env)"
cd "$HERE"
mkdir -p captures
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

D=tests/graph/data/joined/busybox
echo "record: graph-busybox" >&2
"$CT" record -q -o captures/graph-busybox.json -- \
  docker buildx build --progress=plain -t ct-graph-busybox:1 -f "$D/Dockerfile" "$D"

for s in platform-collapse clean-go-multiarch; do
  echo "record: graph-$s" >&2
  "$PY" -m tests.scenarios.runner --out "$OUT" \
    --prefix "$CT record -q -o captures/graph-$s.json --" "$s"
done
echo "record: wrote $(ls captures/graph-*.json | tr '\n' ' ')" >&2
