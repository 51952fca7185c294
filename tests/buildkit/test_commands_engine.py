"""``cachetrace doctor`` and ``cachetrace history`` as users run them, on the real engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.buildkit import builds
from tests.engine import Engine

pytestmark = pytest.mark.engine


def _cachetrace(
    engine: Engine, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = engine.run(
        [sys.executable, "-m", "cachetrace", *args], check=False, extra_env=env, timeout=120
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_doctor_reports_the_builder(engine: Engine, tmp_path: Path) -> None:
    builds.build(engine, tmp_path, builds.WARNED, "doctor")  # so provenance can be checked
    code, out, err = _cachetrace(engine, "doctor")
    assert code == 0, err
    assert f"endpoint:     docker socket {engine.docker_host} /grpc" in out
    assert "buildkit:     github.com/moby/buildkit " in out
    assert "  platforms:  linux/amd64" in out
    assert "label:      org.mobyproject.buildkit.worker.snapshotter=" in out
    assert "history:      yes" in out
    assert "provenance:   yes latest successful build" in out and "mode=max" in out
    assert "cache export: yes" in out
    assert err == ""


def test_doctor_through_dial_stdio_builder_name(engine: Engine) -> None:
    code, out, err = _cachetrace(engine, "doctor", "--builder", "default")
    assert code == 0, err
    assert "builder default from --builder" in out


@pytest.mark.parametrize(
    ("args", "env", "expect"),
    [
        ((), {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, "/nonexistent/docker.sock"),
        (("--addr", "tcp://127.0.0.1:1"), {}, "Connection refused"),
        (("--builder", "nosuchbuilder"), {}, "no buildx builder named 'nosuchbuilder'"),
    ],
)
def test_doctor_without_a_builder_is_one_line_and_exit_3(
    engine: Engine, args: tuple[str, ...], env: dict[str, str], expect: str
) -> None:
    code, _out, err = _cachetrace(engine, "doctor", *args, env=env)
    assert code == 3
    assert err.count("\n") == 1 and err.startswith("cachetrace: error: ") and expect in err
    assert "Traceback" not in err


def test_history_lists_builds(engine: Engine, tmp_path: Path) -> None:
    built = builds.build(engine, tmp_path, builds.WARNED, "history")
    code, out, err = _cachetrace(engine, "history")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["REF", "NAME", "STATUS", "DURATION", "STEPS", "CACHED"]
    row = next(r for r in rows if r.startswith(built.ref))
    fields = row.split()
    assert fields[1:3] == ["Dockerfile", "completed"]
    assert fields[3].endswith("s") and float(fields[3][:-1]) > 0
    done, total = fields[4].split("/")
    assert done == total and int(total) >= 5 and 0 <= int(fields[5]) <= int(total)

    code, out, err = _cachetrace(engine, "history", "--json")
    assert code == 0, err
    entry = next(e for e in json.loads(out) if e["ref"] == built.ref)
    assert entry["status"] == "completed" and entry["error"] is None
    assert entry["steps"] == entry["completed_steps"] == int(total)
    assert entry["warnings"] == (1 if builds.has_build_checks(engine) else 0)
    assert entry["cached_steps"] == int(fields[5])
