#!/usr/bin/env bash
# README's main-job command (`make demo`): record the bundled example on the project's own
# engine, then show what cachetrace found in it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$HERE"
CT=${CACHETRACE:-$HERE/.venv/bin/cachetrace}
bash scripts/engine.sh up
eval "$(bash scripts/engine.sh env)"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p captures/demo
CAPTURE=captures/demo/go-multiarch.json

echo "== cachetrace record -- docker buildx build (examples/go-multiarch, linux/amd64 + linux/arm64)"
"$CT" record -o "$CAPTURE" -- docker buildx build --platform linux/amd64,linux/arm64 \
  -f examples/go-multiarch/Dockerfile -o "type=local,dest=$OUT/out" examples/go-multiarch

echo
echo "== cachetrace show $CAPTURE"
"$CT" show "$CAPTURE"

if "$CT" analyze --help >/dev/null 2>&1; then
  echo
  echo "== cachetrace analyze $CAPTURE"
  "$CT" analyze "$CAPTURE" || true   # exit 1 means "found something": that is the point here
fi
echo
echo "The capture is $CAPTURE; compare with examples/go-multiarch/Dockerfile.fixed."
