"""The rules on the committed scenario captures (``scripts/record_scenario_captures.sh``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from cachetrace.analysis import EvidenceKind, Severity, run_rules
from cachetrace.capture_io.files import load_capture
from tests.analysis.expectations import check
from tests.scenarios.spec import ROOT, all_scenarios, load

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "scenarios"
RECORDED = sorted(CAPTURES.glob("*/*.json"))

pytestmark = pytest.mark.skipif(not RECORDED, reason="no recorded scenario captures")


@cache
def _findings(path: Path):  # type: ignore[no-untyped-def]
    return run_rules(load_capture(path))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_capture_gives_the_expected_findings(path: Path) -> None:
    check(load(ROOT / path.parent.name), _findings(path))


def test_every_scenario_has_a_capture() -> None:
    missing = [s.id for s in all_scenarios() if not (CAPTURES / s.id).is_dir()]
    assert not missing


def test_finding_ids_are_stable_across_runs() -> None:
    runs = sorted((CAPTURES / "network-fetch-unpinned").glob("*.json"))
    ids = [tuple(f.id for f in _findings(p)) for p in runs]
    assert len(runs) == 3 and len(set(ids)) == 1, ids


def test_drift_shows_in_module_versions() -> None:
    def versions(run: str) -> str:
        fs = _findings(CAPTURES / "network-fetch-unpinned" / f"{run}.json")
        line9 = next(f for f in fs if f.location and f.location.line == 9)
        return " ".join(e.text for e in line9.evidence if e.kind is EvidenceKind.BINARY)

    assert "example.com/greet v1.0.0" in versions("v1.0.0")
    assert "example.com/greet v1.0.0" in versions("v1.1.0-cached")  # stale cache hit
    assert "example.com/greet v1.1.0" in versions("v1.1.0")


def test_go_caches_shared_across_platforms_are_reported_safe_at_info() -> None:
    fs = _findings(CAPTURES / "clean-go-multiarch" / "default.json")
    notes = [f for f in fs if f.rule == "cache-mount-outside-key"]
    assert notes and all(f.severity is Severity.INFO for f in notes)
    text = " ".join(e.text for f in notes for e in f.evidence)
    assert "safe" in text and "GOOS/GOARCH" in text


def test_correct_platform_is_not_flagged() -> None:
    fs = _findings(CAPTURES / "platform-collapse" / "default.json")
    wrong = [f for f in fs if f.rule == "wrong-arch-output"]
    assert [f.step.platform for f in wrong if f.step] == ["linux/arm64"]


def test_rule_selection() -> None:
    path = CAPTURES / "platform-collapse" / "default.json"
    fs = run_rules(load_capture(path), ["wrong-arch-output"])
    assert {f.rule for f in fs} == {"wrong-arch-output"}
