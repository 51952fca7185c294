"""Real pre-1.18 Go binaries (Debian 11's, built by Go 1.15) against ``go version -m``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cachetrace.outputs.binary import inspect_binary
from tests.engine import Engine
from tests.outputs import debian_old

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(not debian_old.available(), reason="needs apt-get and dpkg-deb"),
]

DOCKERFILE = """
FROM golang:local
COPY gobuster /b/gobuster
RUN go version -m /b/gobuster > /v.txt
FROM scratch
COPY --from=0 /v.txt /
"""


def test_debian_bullseye_go_binary(engine: Engine, tmp_path: Path) -> None:
    tree = debian_old.fetch("gobuster", tmp_path / "deb")
    binary = tree / "usr" / "bin" / "gobuster"
    info = inspect_binary(binary.read_bytes(), str(binary))
    assert info is not None and info.go is not None
    assert info.go.legacy_format
    assert info.go.go_version.startswith("go1.15")
    # GOPATH-mode build: runtime.modinfo is empty and lives in .bss, outside the file
    assert (info.go.path, info.go.main, info.go.deps, info.go.settings) == ("", None, (), {})
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy(binary, ctx / "gobuster")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    engine.docker("buildx", "build", "-o", f"type=local,dest={tmp_path / 'out'}", str(ctx))
    assert (tmp_path / "out" / "v.txt").read_text() == f"/b/gobuster: {info.go.go_version}\n"
