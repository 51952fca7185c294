#!/usr/bin/env bash
# Re-record captures/scenarios/<scenario>/<run>.json from tests/scenarios/ on the real engine.
#
#   scripts/record_scenario_captures.sh [SCENARIO_ID ...]
#
# Each scenario's runs are built in order behind `cachetrace record` (drift scenarios: two or
# three runs against one module proxy). The captures are never edited by hand; the analysis
# unit tests and the README/TUI demos read them.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$HERE"
bash scripts/engine.sh up >&2
eval "$(bash scripts/engine.sh env)"
PY=${PYTHON:-$HERE/.venv/bin/python}
exec "$PY" -m tests.analysis.scenario_captures --out "$HERE/captures/scenarios" "$@"
