#!/usr/bin/env bash
# Re-record the cache-key fixtures of tests/graph/data/ from the real engine.
#
#   scripts/record_key_fixtures.sh
#
# Needs the engine of scripts/engine.sh (started if it is not running) with the images
# busybox:local and golang:local. Writes:
#
#   tests/graph/data/keys/<scenario>/   for each scenario in tests/graph/data/scenarios/
#                                       (features, multi, gobuild, variant): the provenance of every
#                                       platform (provenance-<os>-<arch>.json) and the cache
#                                       export's index.json, manifest.json, cacheconfig.json
#   tests/graph/data/keys/versions.txt  the engine and buildx versions they come from
#   tests/graph/data/gojson/truth.json  what Go's encoding/json writes for cases.in.json
#                                       (truth.go run with `go run` in golang:local)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$HERE/.venv/bin/python}

bash "$HERE/scripts/engine.sh" up >/dev/null
eval "$(bash "$HERE/scripts/engine.sh" env)"

cd "$HERE"
"$PY" -m tests.graph.scenarios "$HERE/tests/graph/data/keys"

G=$HERE/tests/graph/data/gojson
echo "record: Go encoding/json ground truth" >&2
docker run --rm --network=none -e GOFLAGS=-mod=mod -e GOCACHE=/tmp/gocache -v "$G:/w:ro" -w /w \
  golang:local go run truth.go cases.in.json >"$G/truth.json.tmp"
mv "$G/truth.json.tmp" "$G/truth.json"
echo "record: wrote $(ls "$HERE/tests/graph/data/keys" | tr '\n' ' ')" >&2
