#!/usr/bin/env bash
# Re-record the cache-key fixtures of tests/graph/data/ from real engines.
#
#   scripts/record_key_fixtures.sh               the project engine (scripts/engine.sh)
#   scripts/record_key_fixtures.sh --old-engine  also an older Docker Engine from Debian trixie
#                                                (26.1.5, BuildKit v0.13.2), started in a
#                                                private dir with its own bridge, then stopped
#
# Needs the images busybox:local and golang:local (engine.sh imports them). Writes:
#
#   tests/graph/data/keys/<scenario>/   for each scenario in tests/graph/data/scenarios/
#                                       (features, secretenv, multi, gobuild, variant): the
#                                       provenance of every platform (provenance-<os>-<arch>.json)
#                                       and the cache export's index.json, manifest.json and
#                                       cacheconfig.json
#   tests/graph/data/keys/versions.txt  the engine, buildx and BuildKit versions
#   tests/graph/data/keys-buildkit-v0.13/  the same from the older engine (--old-engine; the
#                                       scenarios its Dockerfile frontend can build)
#   tests/graph/data/gojson/truth.json  what Go's encoding/json writes for cases.in.json
#                                       (truth.go run with `go run` in golang:local)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$HERE/.venv/bin/python}
OLD=0
[ "${1:-}" = "--old-engine" ] && OLD=1

bash "$HERE/scripts/engine.sh" up >/dev/null
eval "$(bash "$HERE/scripts/engine.sh" env)"

cd "$HERE"
"$PY" -m tests.graph.scenarios "$HERE/tests/graph/data/keys"

G=$HERE/tests/graph/data/gojson
echo "record: Go encoding/json ground truth" >&2
docker run --rm --network=none -e GOCACHE=/tmp/gocache -v "$G:/w:ro" -w /w \
  golang:local go run truth.go cases.in.json >"$G/truth.json.tmp"
mv "$G/truth.json.tmp" "$G/truth.json"

if [ "$OLD" = 1 ]; then
  export CACHETRACE_ENGINE_DIR=${CACHETRACE_OLD_ENGINE_DIR:-/tmp/cachetrace-old-engine}
  export CACHETRACE_ENGINE_SUITES=trixie CACHETRACE_ENGINE_BRIDGE=ctbr9
  export CACHETRACE_ENGINE_BRIDGE_CIDR=172.30.0.1/16
  bash "$HERE/scripts/engine.sh" up >/dev/null
  trap 'bash "$HERE/scripts/engine.sh" down >/dev/null' EXIT
  eval "$(bash "$HERE/scripts/engine.sh" env)"
  CACHETRACE_TEST_DOCKER_HOST=$DOCKER_HOST CACHETRACE_TEST_DOCKER_CONFIG=$DOCKER_CONFIG \
    "$PY" -m tests.graph.scenarios "$HERE/tests/graph/data/keys-buildkit-v0.13" \
    features multi gobuild variant
fi
echo "record: done" >&2
