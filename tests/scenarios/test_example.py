"""The bundled example (examples/go-multiarch): its command, its expected findings, its bugs.

The build test compiles net/http for two targets (minutes on a cold 2-core engine), so it
runs only with ``CACHETRACE_BUILD_EXAMPLE=1``; the recorder's tests record the same build.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.engine import Engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "go-multiarch"


def printed_command(*args: str, wrapper: str = "") -> list[str]:
    env = dict(os.environ, PRINT_ONLY="1", BUILD_WRAPPER=wrapper, DOCKER_HOST="unix:///nonexistent")
    out = subprocess.run(
        ["bash", str(EXAMPLE / "build.sh"), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return shlex.split(out)


def test_build_sh_runs_the_two_platform_local_build() -> None:
    argv = printed_command()
    assert argv[:3] == ["docker", "buildx", "build"]
    assert "linux/amd64,linux/arm64" in argv
    assert argv[argv.index("-f") + 1] == str(EXAMPLE / "Dockerfile")
    assert argv[argv.index("-o") + 1] == f"type=local,dest={EXAMPLE / 'out'}"
    assert argv[-1] == str(EXAMPLE)
    fixed = printed_command("--fixed", "--out", "/tmp/x", "--", "--no-cache")
    assert fixed[fixed.index("-f") + 1] == str(EXAMPLE / "Dockerfile.fixed")
    assert "type=local,dest=/tmp/x" in fixed and "--no-cache" in fixed
    wrapped = printed_command(wrapper="cachetrace record --")
    assert wrapped[:5] == ["cachetrace", "record", "--", "docker", "buildx"]


def test_expected_findings_point_at_their_lines() -> None:
    spec = json.loads((EXAMPLE / "expected-findings.json").read_text())
    lines = (EXAMPLE / spec["dockerfile"]).read_text().splitlines()
    assert {e["rule"] for e in spec["expect"]} == {
        "platform-collapse",
        "wrong-arch-output",
        "env-export-scope",
    }
    for e in spec["expect"]:
        assert e["anchor"] in lines[e["line"] - 1], e
    assert "export GOFLAGS" in lines[8]  # the continuation of the line-8 RUN
    fixed = (EXAMPLE / "Dockerfile.fixed").read_text()
    assert "ARG TARGETOS TARGETARCH" in fixed and "GOARCH=$TARGETARCH go build" in fixed
    assert "export" not in fixed


@pytest.mark.engine
@pytest.mark.skipif(
    os.environ.get("CACHETRACE_BUILD_EXAMPLE") != "1",
    reason="slow cold build; set CACHETRACE_BUILD_EXAMPLE=1",
)
def test_example_really_has_its_bugs_and_the_fix_really_fixes_them(
    engine: Engine, tmp_path: Path
) -> None:
    def machine(path: Path) -> int:
        return int.from_bytes(path.read_bytes()[18:20], "little")

    engine.run(["bash", str(EXAMPLE / "build.sh"), "--out", str(tmp_path / "bug")])
    engine.run(["bash", str(EXAMPLE / "build.sh"), "--fixed", "--out", str(tmp_path / "fix")])
    bug_amd, bug_arm = (tmp_path / "bug" / p / "server" for p in ("linux_amd64", "linux_arm64"))
    assert bug_amd.read_bytes() == bug_arm.read_bytes()
    assert machine(bug_arm) == 62  # x86-64 in the arm64 output
    assert machine(tmp_path / "fix" / "linux_arm64" / "server") == 183  # aarch64
    assert machine(tmp_path / "fix" / "linux_amd64" / "server") == 62
    info = engine.docker(
        "run",
        "--rm",
        "-v",
        f"{tmp_path}:/x:ro",
        "golang:local",
        "go",
        "version",
        "-m",
        "/x/bug/linux_arm64/server",
        "/x/fix/linux_arm64/server",
    ).stdout.decode()
    bug_info, fix_info = info.split("/x/fix/")
    assert "GOARCH=amd64" in bug_info and "-trimpath=true" not in bug_info
    assert "GOARCH=arm64" in fix_info and "-trimpath=true" in fix_info
