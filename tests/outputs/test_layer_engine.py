"""Layers that the engine really produced: digests, zstd, whiteouts and the interpreter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cachetrace.model.outputs import FileType
from cachetrace.outputs.filesystem import apply_layers
from tests.engine import Engine
from tests.outputs.oci import Image, read_image

pytestmark = pytest.mark.engine

STEP = """
FROM busybox:local
RUN mkdir -p /app/data && echo {word} > /app/data/a.txt && printf 'xyz' > /app/data/b \\
    && chmod 600 /app/data/b && ln -s data/a.txt /app/link && touch /app/data/empty
"""

PIE = """
FROM --platform=$BUILDPLATFORM golang:local AS build
WORKDIR /src
COPY go.mod main.go ./
RUN --mount=type=cache,target=/root/.cache/go-build go build -buildmode=pie -o /pie .

FROM busybox:local AS withloader
RUN mkdir -p /usr/lib64 && echo not-really-a-loader > /usr/lib64/ld-linux-x86-64.so.2 \\
    && ln -s usr/lib64 /lib64
COPY --from=build /pie /usr/local/bin/pie

FROM withloader AS noloader
RUN rm /usr/lib64/ld-linux-x86-64.so.2

FROM scratch AS bare
COPY --from=build /pie /pie
"""


def _build(engine: Engine, ctx: Path, out: Path, *args: str, compression: str = "gzip") -> Image:
    engine.docker(
        "buildx",
        "build",
        "--progress=plain",
        *args,
        "-o",
        f"type=oci,dest={out},tar=false,compression={compression},force-compression=true",
        str(ctx),
        timeout=900,
    )
    return read_image(out)


def test_content_digest_survives_no_cache_rebuilds(engine: Engine, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(STEP.format(word="hello"))
    first = _build(engine, ctx, tmp_path / "a", "--no-cache")
    time.sleep(1.2)  # tar mtimes have 1 s granularity: make the rebuild's mtimes differ
    second = _build(engine, ctx, tmp_path / "b", "--no-cache", compression="zstd")
    (ctx / "Dockerfile").write_text(STEP.format(word="hellO"))
    changed = _build(engine, ctx, tmp_path / "c", "--no-cache")

    for image in (first, second, changed):
        assert [layer.diff_id for layer in image.layers] == image.diff_ids
    assert second.layers[-1].compression == "zstd"
    assert first.layers[-1].compression == "gzip"
    a, b, c = first.layers[-1], second.layers[-1], changed.layers[-1]
    assert a.diff_id != b.diff_id  # new mtimes on the rebuild
    assert a.content_digest == b.content_digest
    assert c.content_digest != a.content_digest
    by_path = {e.path: e for e in a.entries}
    assert by_path["/app/data/b"].mode == 0o600 and by_path["/app/data/b"].size == 3
    assert by_path["/app/link"].type is FileType.SYMLINK
    assert by_path["/app/link"].link_target == "data/a.txt"
    diff = {e.path: e.sha256 for e in a.entries} != {e.path: e.sha256 for e in c.entries}
    assert diff


def test_interpreter_presence_in_final_filesystem(engine: Engine, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(PIE)
    (ctx / "go.mod").write_text("module example.com/pie\n\ngo 1.24\n")
    (ctx / "main.go").write_text('package main\n\nfunc main() { println("pie") }\n')
    found: dict[str, bool] = {}
    for target in ("withloader", "noloader", "bare"):
        image = _build(engine, ctx, tmp_path / target, "--target", target)
        assert [layer.diff_id for layer in image.layers] == image.diff_ids
        binaries = [b for layer in image.layers for b in layer.binaries if b.go is not None]
        pie = next(b for b in binaries if b.path.endswith("pie"))
        assert pie.interpreter == "/lib64/ld-linux-x86-64.so.2" and pie.static is False
        fs = apply_layers(layer.entries for layer in image.layers)
        assert fs.exists(pie.path)
        found[target] = fs.exists(pie.interpreter)
        if target == "noloader":
            whiteouts = [e for e in image.layers[-1].entries if e.type is FileType.WHITEOUT]
            assert [e.path for e in whiteouts] == ["/usr/lib64/ld-linux-x86-64.so.2"]
            assert fs.exists("/lib64", follow_symlinks=False)
    assert found == {"withloader": True, "noloader": False, "bare": False}
