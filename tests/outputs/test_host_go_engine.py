"""The engine's own Go binaries (Debian's builds by a newer Go than the image's: cgo on,
dynamically linked, long DefaultGODEBUG settings) against ``go version -m`` in the Go image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cachetrace.outputs.binary import inspect_binary
from tests.engine import REPO, Engine
from tests.outputs.test_go_engine import _go_version_m, _ours

pytestmark = pytest.mark.engine

PREFIX = REPO / ".engine" / "prefix" / "usr"
BINARIES = ["sbin/docker-proxy", "bin/containerd-shim-runc-v2", "bin/ctr"]

DOCKERFILE = """
FROM golang:local
COPY bins /bins
RUN mkdir /out && for f in /bins/*; do go version -m "$f" > "/out/$(basename $f).txt"; done
FROM scratch
COPY --from=0 /out /
"""


@pytest.mark.skipif(
    not all((PREFIX / b).exists() for b in BINARIES), reason="engine binaries not in .engine/"
)
def test_engine_binaries_match_go_version_m(engine: Engine, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "bins").mkdir(parents=True)
    for b in BINARIES:
        shutil.copy(PREFIX / b, ctx / "bins" / Path(b).name)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    out = tmp_path / "out"
    engine.docker("buildx", "build", "-o", f"type=local,dest={out}", str(ctx))
    for b in BINARIES:
        name = Path(b).name
        info = inspect_binary((ctx / "bins" / name).read_bytes(), name)
        assert info is not None and info.go is not None
        assert _ours(info.go) == _go_version_m((out / f"{name}.txt").read_text()), name
        assert (info.os, info.arch) == (info.go.goos, info.go.goarch)
        assert (info.static is False) == (info.go.cgo_enabled is True), name
