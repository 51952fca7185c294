"""A fresh build on the real engine, its provenance taken from history and decoded live."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from cachetrace.buildkit.provenance import decode_provenance
from cachetrace.model.llb import CacheSharing, MountType, NetworkMode, OpKind, SlsaVersion
from tests.engine import Engine

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM busybox:local
ARG MODE=fast
RUN --mount=type=cache,target=/cache,sharing=private echo "$MODE" > /cache/m && cp /cache/m /m
RUN --network=none cat /m
"""


def status_objects(text: str) -> list[dict[str, Any]]:
    """``--progress=rawjson`` output: JSON SolveStatus objects one after another."""
    decoder = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)


def history_ref(metadata_file: Path) -> str:
    ref: str = json.loads(metadata_file.read_text())["buildx.build.ref"]
    return ref.rsplit("/", 1)[-1]


def test_fresh_build_provenance_decodes(engine: Engine, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    mode = f"slow-{uuid.uuid4().hex[:8]}"
    meta = tmp_path / "meta.json"
    build = engine.docker(
        "buildx", "build", "--progress=rawjson", "--metadata-file", str(meta),
        "--build-arg", f"MODE={mode}", "-o", "type=cacheonly", str(context),
    )  # fmt: skip
    vertices = {
        v["digest"]: v.get("name", "")
        for status in status_objects(build.stderr.decode())
        for v in status.get("vertexes") or []
    }
    blob = engine.docker(
        "buildx", "history", "inspect", "attachment", history_ref(meta), "--type", "provenance"
    ).stdout

    p = decode_provenance(blob)
    assert p.slsa_version is SlsaVersion.V0_2
    assert p.request.build_args == {"MODE": mode}
    runs = p.steps_of(OpKind.EXEC)
    assert [s.dockerfile_lines() for s in runs] == [(3,), (4,)]
    first, second = (s.op.exec for s in runs)
    assert first is not None and second is not None
    assert first.meta.env_dict()["MODE"] == mode
    (cache,) = first.mounts_of(MountType.CACHE)
    assert cache.dest == "/cache" and cache.cache is not None
    assert cache.cache.sharing is CacheSharing.PRIVATE
    assert cache.cache.id.endswith("/cache")  # an unnamed cache mount is keyed by its target
    assert (first.network, second.network) == (NetworkMode.SANDBOX, NetworkMode.NONE)
    assert p.sources[0].text == DOCKERFILE
    # The digests from digestMapping are the status stream's vertex digests (vertex names
    # show the line with ARGs substituted).
    for step in runs:
        assert step.digest in vertices
        line = p.sources[0].line(step.dockerfile_lines()[0])
        assert vertices[step.digest].endswith(line.replace("$MODE", mode))


def test_failed_build_has_no_provenance(engine: Engine, tmp_path: Path) -> None:
    name = f"cachetrace-prov-failed-{uuid.uuid4().hex[:8]}"
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox:local\nRUN exit 7\n")
    failed = engine.docker("buildx", "build", "--progress=quiet", str(context), check=False)
    assert failed.returncode != 0
    listed = engine.docker(
        "buildx", "history", "ls", "--filter", "status=error", "--format", "json"
    )
    records = [json.loads(line) for line in listed.stdout.decode().splitlines() if line.strip()]
    (record,) = [r for r in records if r["name"] == name]
    ref = record["ref"].rsplit("/", 1)[-1]
    attachment = engine.docker(
        "buildx", "history", "inspect", "attachment", ref, "--type", "provenance", check=False
    )
    assert attachment.returncode != 0
    assert b"no matching attachment" in attachment.stderr


def test_exported_statement_matches_the_history_predicate(engine: Engine, tmp_path: Path) -> None:
    """``--provenance=mode=max -o type=local`` writes an in-toto statement next to the files."""
    context = tmp_path / "ctx"
    context.mkdir()
    nonce = uuid.uuid4().hex
    (context / "Dockerfile").write_text(f"FROM busybox:local\nRUN echo {nonce} > /x\n")
    out, meta = tmp_path / "out", tmp_path / "meta.json"
    engine.docker(
        "buildx", "build", "--progress=quiet", "--metadata-file", str(meta),
        "--provenance=mode=max", "-o", f"type=local,dest={out}", str(context),
    )  # fmt: skip
    exported = decode_provenance((out / "provenance.json").read_bytes())
    recorded = decode_provenance(
        engine.docker(
            "buildx", "history", "inspect", "attachment", history_ref(meta), "--type", "provenance"
        ).stdout
    )
    subjects = {s.uri: s.digests["sha256"] for s in exported.subjects}
    assert subjects["x"] == hashlib.sha256((out / "x").read_bytes()).hexdigest()
    assert recorded.subjects == ()
    # Same build, same predicate; only the history copy carries BuildKit's system samples.
    assert dataclasses.replace(exported, subjects=(), sys_usage=None) == dataclasses.replace(
        recorded, sys_usage=None
    )
    (run,) = recorded.steps_of(OpKind.EXEC)
    assert run.op.exec is not None and run.op.exec.meta.args[2] == f"echo {nonce} > /x"
