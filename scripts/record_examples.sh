#!/usr/bin/env bash
# Re-record the example captures in captures/ on the project's own engine.
# Every capture in captures/ is a real recording made by this script (or by the scripts it
# names below); none is edited by hand. Run: scripts/record_examples.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$HERE"
bash scripts/engine.sh up
eval "$(bash scripts/engine.sh env)"
CT=${CACHETRACE:-$HERE/.venv/bin/cachetrace}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export CACHETRACE_CACHE_DIR=$OUT/ctcache

rec() {  # name command...
  local name=$1; shift
  echo "== recording captures/$name.json" >&2
  "$CT" record -o "captures/$name.json" -- "$@" || echo "   (the build exited $?: recorded as such)" >&2
}

# The bundled example: a multi-platform Go service with cache-pollution bugs, and its fix.
# --no-cache makes every step run, so the outputs are what this Dockerfile really produces.
rec go-multiarch docker buildx build --no-cache --platform linux/amd64,linux/arm64 \
  -f examples/go-multiarch/Dockerfile -o "type=local,dest=$OUT/polluted" examples/go-multiarch
rec go-multiarch-fixed docker buildx build --no-cache --platform linux/amd64,linux/arm64 \
  -f examples/go-multiarch/Dockerfile.fixed -o "type=local,dest=$OUT/fixed" examples/go-multiarch
# The same polluted build again, warm: what a cache hit looks like.
rec go-multiarch-warm docker buildx build --platform linux/amd64,linux/arm64 \
  -f examples/go-multiarch/Dockerfile -o "type=local,dest=$OUT/warm" examples/go-multiarch

# A build that fails: the capture is marked incomplete, with the failing step's logs.
mkdir -p "$OUT/fail"
printf 'FROM busybox:local\nRUN echo preparing\nRUN echo "compiling…" && exit 2\n' >"$OUT/fail/Dockerfile"
rec failed-build docker buildx build --no-cache "$OUT/fail"

# Scenario and graph captures have their own scripts (owned with their tests).
if [ "${1:-}" != "--examples-only" ]; then
  for s in scripts/record_scenario_captures.sh scripts/record_graph_captures.sh; do
    if [ -x "$s" ]; then bash "$s"; fi
  done
fi
ls -la captures/*.json >&2
