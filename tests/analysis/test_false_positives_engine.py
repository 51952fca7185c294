"""Correct real builds that look like the rules' patterns must give nothing at warning or
above: a build-platform code generator shared by every target (then a per-target compile with
Go's caches and a read-only context bind), and a toolchain final image full of foreign ELF
test data, with a secret and proxy args."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cachetrace.analysis import Severity, run_rules
from cachetrace.capture_io.files import load_capture
from cachetrace.report import FORMATS, build_report, render
from tests.engine import Engine

pytestmark = pytest.mark.engine

DATA = Path(__file__).with_name("data")
REPO = DATA.parents[2]
TOKEN = "ghp_CachetracePlantedFakeTokenC333333333"
PROXY_PASSWORD = "pw1234secret"


def _record(engine: Engine, capture: Path, build: list[str]) -> None:
    engine.run(
        [sys.executable, "-m", "cachetrace", "record", "-q", "-o", str(capture), "--", *build],
        cwd=REPO,
    )


def test_generator_shared_by_targets_is_info_only(engine: Engine, tmp_path: Path) -> None:
    capture = tmp_path / "gen.json"
    _record(
        engine,
        capture,
        [
            "docker", "buildx", "build", "--platform", "linux/amd64,linux/arm64",
            "-o", f"type=local,dest={tmp_path / 'out'}", str(DATA / "fp-generator"),
        ],
    )  # fmt: skip
    findings = run_rules(load_capture(capture))
    assert all(f.severity is Severity.INFO for f in findings), findings
    collapse = [f for f in findings if f.rule == "platform-collapse"]
    assert [f.location.line for f in collapse if f.location] == [8]
    assert "build-platform tool" in collapse[0].message


def test_toolchain_image_with_secret_and_proxy_args(engine: Engine, tmp_path: Path) -> None:
    secret = tmp_path / "tok"
    secret.write_text(TOKEN)
    proxy = f"http://user:{PROXY_PASSWORD}@proxy.invalid:3128"
    capture = tmp_path / "base.json"
    _record(
        engine,
        capture,
        [
            "docker", "buildx", "build", "--no-cache", "--secret", f"id=tok,src={secret}",
            "--build-arg", f"HTTPS_PROXY={proxy}", "--build-arg", f"http_proxy={proxy}",
            "--output", "type=cacheonly", str(DATA / "fp-base-image"),
        ],
    )  # fmt: skip
    cap = load_capture(capture)
    findings = run_rules(cap)
    assert all(f.severity is Severity.INFO for f in findings), findings
    proxy_findings = [f for f in findings if f.rule == "proxy-args-outside-key"]
    assert proxy_findings and all(
        "HTTPS_PROXY" not in e.text for f in proxy_findings for e in f.evidence if "ARG" in e.text
    )
    report = build_report(findings, (), capture=str(capture), build=cap.builds[0])
    for fmt in FORMATS:
        out = render(report, fmt)
        assert TOKEN not in out and PROXY_PASSWORD not in out, fmt
