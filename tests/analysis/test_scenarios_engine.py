"""Every scenario, recorded for real behind ``cachetrace record``, analysed.

Each scenario's runs are built once (module fixture, in order, one module proxy per scenario);
each run's capture must give exactly the scenario's expected findings at their lines (clean
controls: nothing at warning or above), and no report format may contain a planted secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cachetrace.analysis import RULES, run_rules
from cachetrace.capture_io.files import load_capture
from cachetrace.report import FORMATS, build_report, render
from tests.analysis.expectations import check
from tests.analysis.scenario_captures import RecordedRun, record_scenario
from tests.engine import Engine
from tests.scenarios.spec import Scenario, all_scenarios

pytestmark = pytest.mark.engine

SCENARIOS = all_scenarios()


@pytest.fixture(scope="module")
def recorded(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[RecordedRun]]]:
    root = tmp_path_factory.mktemp("scenario-captures")
    runs = {s.id: record_scenario(s, root, env=engine.env) for s in SCENARIOS}
    yield runs


def _planted(s: Scenario) -> set[str]:
    values = set(s.build.secrets.values())
    for run in s.runs:
        values |= set(run.secrets.values())
    for value in {**s.build.build_args}.values():
        if "@" in value and ":" in value.split("@")[0]:
            values.add(value.split("@")[0].rsplit(":", 1)[1])  # a proxy URL's password
    return {v for v in values if len(v) >= 5}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_scenario_findings(scenario: Scenario, recorded: dict[str, list[RecordedRun]]) -> None:
    runs = recorded[scenario.id]
    assert [r.run for r in runs] == [r.name for r in scenario.runs]
    for run in runs:
        assert run.returncode == 0, run.log[-3000:]
        capture = load_capture(run.capture)
        findings = run_rules(capture)
        check(scenario, findings)
        secrets = _planted(scenario)
        raw = Path(run.capture).read_text()
        for secret in secrets:
            assert secret not in raw, (scenario.id, run.run, "capture")
        report = build_report(
            findings, tuple(RULES.values()), capture=str(run.capture), build=capture.builds[0]
        )
        for fmt in FORMATS:
            out = render(report, fmt)
            for secret in secrets:
                assert secret not in out, (scenario.id, run.run, fmt)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "go-multiarch"


@pytest.mark.skipif(
    __import__("os").environ.get("CACHETRACE_BUILD_EXAMPLE") != "1",
    reason="slow cold build; set CACHETRACE_BUILD_EXAMPLE=1",
)
def test_bundled_example_findings(engine: Engine, tmp_path: Path) -> None:
    """examples/go-multiarch: exactly its expected-findings.json; Dockerfile.fixed is clean."""
    import json
    import sys

    spec = json.loads((EXAMPLE / "expected-findings.json").read_text())
    for fixed in (False, True):
        capture = tmp_path / f"{fixed}.json"
        wrapper = f"{sys.executable} -m cachetrace record -q -o {capture} --"
        args = ["bash", str(EXAMPLE / "build.sh"), "--out", str(tmp_path / str(fixed))]
        engine.run([*args, *(["--fixed"] if fixed else [])], extra_env={"BUILD_WRAPPER": wrapper})
        findings = run_rules(load_capture(capture))
        loud = sorted(
            (f.rule, f.location.line if f.location else 0, f.severity.value)
            for f in findings
            if f.severity.rank >= 1
        )
        want = (
            [] if fixed else sorted((e["rule"], e["line"], e["severity"]) for e in spec["expect"])
        )
        assert loud == want, findings
