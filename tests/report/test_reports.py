"""Report formats on real scenario captures: schemas, structure, redaction, CI gating."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from cachetrace.analysis import RULES, run_rules
from cachetrace.capture_io.files import load_capture
from cachetrace.report import FORMATS, build_report, render

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "captures" / "scenarios"
REPORT_SCHEMA = REPO / "docs" / "report.schema.json"
SARIF_SUBSET = Path(__file__).with_name("sarif_2_1_0_subset.schema.json")
# Planted in the scenarios' builds (tests/scenarios/*/scenario.json): never in any report.
PLANTED = (
    "ghp_CachetracePlantedFakeTokenA111111111",
    "ghp_CachetracePlantedFakeTokenB222222222",
    "s3cret",
)

pytestmark = pytest.mark.skipif(
    not CAPTURES.is_dir(),
    reason="no recorded scenario captures (scripts/record_scenario_captures.sh)",
)

SAMPLES = [
    "platform-collapse/default.json",
    "proxy-args-outside-key/default.json",
    "secret-outside-key/token-a.json",
    "secret-outside-key/token-b-cached.json",
    "clean-busybox/default.json",
    "cache-mount-cross-platform/default.json",
]


@cache
def report_of(rel: str):  # type: ignore[no-untyped-def]
    path = CAPTURES / rel
    capture = load_capture(path)
    build = capture.builds[0]
    return build_report(
        run_rules(capture),
        tuple(RULES.values()),
        capture=str(path.relative_to(REPO)),
        build=build,
        platforms=("linux/amd64",),
    )


@pytest.mark.parametrize("rel", SAMPLES)
def test_json_report_matches_its_schema(rel: str) -> None:
    doc = json.loads(render(report_of(rel), "json"))
    jsonschema.validate(doc, json.loads(REPORT_SCHEMA.read_text()))
    assert doc["summary"]["total"] == len(doc["findings"])
    for f in doc["findings"]:
        assert f["location"]["file"].endswith("Dockerfile")


@pytest.mark.parametrize("rel", SAMPLES)
def test_sarif_validates(rel: str) -> None:
    sarif = json.loads(render(report_of(rel), "sarif"))
    jsonschema.validate(
        sarif,
        json.loads(SARIF_SUBSET.read_text()),
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(RULES)
    for result in run["results"]:
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("/Dockerfile")
        assert (REPO / loc["artifactLocation"]["uri"]).is_file()
        assert loc["region"]["startLine"] >= 1
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


@pytest.mark.skipif(
    not os.environ.get("CACHETRACE_SARIF_SCHEMA"),
    reason="CACHETRACE_SARIF_SCHEMA (path to the official sarif-schema-2.1.0.json) not set",
)
@pytest.mark.parametrize("rel", SAMPLES)
def test_sarif_official_schema(rel: str) -> None:
    schema = json.loads(Path(os.environ["CACHETRACE_SARIF_SCHEMA"]).read_text())
    jsonschema.validate(json.loads(render(report_of(rel), "sarif")), schema)


def test_markdown_has_summary_table_and_details() -> None:
    md = render(report_of("platform-collapse/default.json"), "markdown")
    assert "| Severity | Count |" in md and "| 🔴 error | 2 |" in md
    assert md.count("<details>") == 2 and md.count("</details>") == 2
    assert "tests/scenarios/platform-collapse/Dockerfile:6" in md
    assert "**Fix:**" in md


def test_text_groups_by_severity_with_file_line_and_step() -> None:
    text = render(report_of("cache-mount-cross-platform/default.json"), "text")
    assert text.index("ERROR (") < text.index("Dockerfile:")
    assert "step: [linux/amd64" in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rel", SAMPLES)
def test_no_planted_secret_in_any_format(rel: str, fmt: str) -> None:
    out = render(report_of(rel), fmt)
    for secret in PLANTED:
        assert secret not in out, (rel, fmt, secret)


def test_proxy_credentials_show_redacted() -> None:
    out = render(report_of("proxy-args-outside-key/default.json"), "json")
    assert "http://<redacted>@proxy.invalid:3128" in out


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachetrace", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_analyze_exit_codes_and_output_file(tmp_path: Path) -> None:
    bad = CAPTURES / "platform-collapse" / "default.json"
    clean = CAPTURES / "clean-go-multiarch" / "default.json"
    assert _cli("analyze", str(bad)).returncode == 1
    assert _cli("analyze", str(clean)).returncode == 0
    assert _cli("analyze", str(clean), "--fail-on", "info").returncode == 1  # the Go cache notes
    assert _cli("analyze", str(bad), "--rules", "missing-interpreter").returncode == 0
    out = tmp_path / "r.sarif"
    proc = _cli("analyze", str(bad), "--format", "sarif", "-o", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"
    for args in (
        ("analyze", str(tmp_path / "missing.json")),
        ("analyze", str(bad), "--rules", "no-such-rule"),
        ("analyze", str(bad), "--build", "7"),
        ("analyze", str(bad), "--format", "pdf"),
    ):
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    assert _cli("analyze", str(corrupt)).returncode == 2


def test_fail_on_error_gates_a_ci_script(tmp_path: Path) -> None:
    script = tmp_path / "ci.sh"
    script.write_text(
        "#!/bin/sh\nset -e\n"
        f'"{sys.executable}" -m cachetrace analyze "$1" --format markdown -o "$2" --fail-on error\n'
        "echo deployed\n"
    )
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for rel, code in (("platform-collapse/default.json", 1), ("clean-busybox/default.json", 0)):
        proc = subprocess.run(
            [str(script), str(CAPTURES / rel), str(tmp_path / "summary.md")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == code, proc.stderr
        assert ("deployed" in proc.stdout) is (code == 0)
        assert (tmp_path / "summary.md").read_text().startswith("# cachetrace report")
