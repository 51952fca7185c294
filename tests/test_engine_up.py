"""The project's engine really builds, and its BuildKit keeps the build in history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine import Engine

pytestmark = pytest.mark.engine


def test_buildx_build_lands_in_history(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo foundation > /proof\n")
    meta = tmp_path / "meta.json"
    engine.docker(
        "buildx",
        "build",
        "--no-cache",
        "--metadata-file",
        str(meta),
        "-t",
        "ct-found:1",
        str(tmp_path),
    )
    ref = json.loads(meta.read_text())["buildx.build.ref"].rsplit("/", 1)[-1]
    listing = engine.docker("buildx", "history", "ls", "--format", "json").stdout.decode()
    refs = {json.loads(line)["ref"].rsplit("/", 1)[-1] for line in listing.splitlines() if line}
    assert ref in refs
    # The image it built runs the step's output.
    out = engine.docker("run", "--rm", "ct-found:1", "cat", "/proof").stdout.decode()
    assert out.strip() == "foundation"


def test_base_images_exist(engine: Engine) -> None:
    for image in ("busybox:local", "golang:local"):
        engine.docker("image", "inspect", image)
    env = engine.docker("image", "inspect", "golang:local", "--format", "{{json .Config.Env}}")
    values = json.loads(env.stdout)
    assert "HOME=/root" in values
    assert "CGO_ENABLED=0" in values
