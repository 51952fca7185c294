"""Scenario specs are consistent with their Dockerfiles and cover every rule (no engine)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.scenarios.goproxy import greet
from tests.scenarios.spec import PAYLOAD_SHA256, ROOT, Scenario, all_scenarios

RULES = {
    "wrong-arch-output",
    "platform-collapse",
    "env-export-scope",
    "proxy-args-outside-key",
    "network-fetch-unpinned",
    "cache-mount-outside-key",
    "host-context-mount",
    "secret-outside-key",
    "missing-interpreter",
}
SCENARIOS = all_scenarios()
IDS = [s.id for s in SCENARIOS]
DOCS = ROOT.parent.parent / "docs" / "rules"


def test_every_rule_has_a_triggering_scenario_and_clean_controls_exist() -> None:
    assert {s.rule for s in SCENARIOS if not s.clean} == RULES
    for rule in RULES:
        assert any(e.rule == rule for s in SCENARIOS for e in s.expect), rule
    assert {s.id for s in SCENARIOS if s.clean} >= {
        "clean-go-multiarch",
        "clean-busybox",
        "clean-secret-pinned-fetch",
    }


def test_every_rule_has_a_doc_page_naming_its_scenario() -> None:
    for rule in RULES:
        page = (DOCS / f"{rule}.md").read_text()
        for heading in ("## What", "## Why the key misses it", "## Evidence", "## Fix"):
            assert heading in page, (rule, heading)
        for s in SCENARIOS:
            if s.rule == rule:
                assert f"tests/scenarios/{s.id}" in page, (rule, s.id)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_expected_lines_point_at_their_instruction(scenario: Scenario) -> None:
    lines = scenario.dockerfile.read_text().splitlines()
    if scenario.clean:
        assert not scenario.expect
    else:
        assert any(e.rule == scenario.rule for e in scenario.expect)
    for e in scenario.expect:
        assert e.anchor, e
        assert e.anchor in lines[e.line - 1], (e.line, lines[e.line - 1])
        assert re.match(r"(RUN|COPY|FROM|ENV|ARG) ", lines[e.line - 1]), lines[e.line - 1]
        assert e.severity in ("warning", "error")
        assert e.rule in RULES
        assert e.evidence
        if e.platform:
            assert e.platform == "either" or e.platform in scenario.build.platforms


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_go_programs_are_standard_modules(scenario: Scenario) -> None:
    gomod = scenario.dir / "go.mod"
    if not gomod.exists():
        assert "go build" not in scenario.dockerfile.read_text()
        return
    first = gomod.read_text().splitlines()[0]
    assert first == f"module example.com/{scenario.id.replace('-', '')}"
    imports = re.findall(r'"([^"]+)"', (scenario.dir / "main.go").read_text())
    assert all("." not in i.split("/")[0] or i == "example.com/greet" for i in imports)
    gosum = scenario.dir / "go.sum"
    if gosum.exists():  # pinned scenarios: the hashes are the proxy's
        assert gosum.read_text().splitlines() == greet("v1.0.0").go_sum_lines()


def test_argv_fills_placeholders_and_writes_secrets(tmp_path: Path) -> None:
    s = next(s for s in SCENARIOS if s.id == "clean-secret-pinned-fetch")
    argv = s.argv(s.runs[0], out_dir=tmp_path / "out", secret_dir=tmp_path, proxy_url="http://x")
    assert argv[:3] == ["docker", "buildx", "build"]
    assert "BASE_URL=http://x" in argv
    assert argv[argv.index("--allow") : argv.index("--allow") + 2] == ["--allow", "network.host"]
    src = argv[argv.index("--secret") + 1].split("src=")[1]
    assert Path(src).read_text().startswith("ghp_")
    assert "ghp_" not in " ".join(argv)  # secret values never on the command line
    assert PAYLOAD_SHA256 in s.dockerfile.read_text()


def test_planted_tokens_are_github_shaped() -> None:
    for s in SCENARIOS:
        for value in [*s.build.secrets.values(), *(v for r in s.runs for v in r.secrets.values())]:
            assert re.fullmatch(r"ghp_[A-Za-z0-9]{36}", value), value
