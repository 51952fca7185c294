"""Exec keys recomputed on fresh real builds: every exec step must hit an exported record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine import Engine
from tests.graph.keyfixtures import match
from tests.graph.scenarios import SCENARIOS, run_scenario

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_recomputed_exec_keys_match_the_export(
    engine: Engine, scenario: str, tmp_path: Path
) -> None:
    recorded = run_scenario(engine, scenario, tmp_path)
    config = json.loads(recorded.config)
    for platform, provenance in recorded.provenance.items():
        report = match(json.loads(provenance), config)
        print(
            f"{scenario} {platform}: {report.steps} exec steps, {report.records} records, "
            f"{len(report.matched)} matched exactly"
        )
        assert report.steps > 0
        assert report.unmatched == (), report
