"""`cachetrace record` on the real engine: what a capture holds, failure, interruption, bake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachetrace.model.capture import CommandKind, StatusSource
from cachetrace.model.llb import MountType, OpKind
from tests.engine import Engine
from tests.record.conftest import record, record_interrupted

pytestmark = pytest.mark.engine

GH_TOKEN = "ghp_" + "Zq8Xw2Lk9Pm4Rt7Vb1Nc6Hy3Jd5Fg0Sa2Ue8"
PROXY_PASSWORD = "pr0xyPassw0rd"
SECRET_VALUE = "secret-file-content-7f3a9c"
NPM_TOKEN_VALUE = "npmvalue-c0ffee-1234"

SINGLE = (
    """\
FROM busybox:local
ARG GITHUB_TOKEN
WORKDIR /app
COPY hello.txt .
RUN --mount=type=cache,target=/cache,id=ctcache echo "visible-log-line" && \\
    echo "${GITHUB_TOKEN}" | wc -c > /app/len && cp hello.txt /app/copy
RUN --mount=type=secret,id=tok export NPM_TOKEN=NPMVALUE && sha256sum /run/secrets/tok > /app/sum
"""
).replace("NPMVALUE", NPM_TOKEN_VALUE)


def _single(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(SINGLE)
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "tok.txt").write_text(SECRET_VALUE)
    return tmp_path


def _single_cmd(ctx: Path) -> list[str]:
    return [
        "docker",
        "buildx",
        "build",
        "--no-cache",
        "--build-arg",
        f"GITHUB_TOKEN={GH_TOKEN}",
        "--build-arg",
        f"HTTPS_PROXY=http://builder:{PROXY_PASSWORD}@proxy.invalid:3128",
        "--secret",
        f"id=tok,src={ctx / 'tok.txt'}",
        "-t",
        "ct-record-single:1",
        ".",
    ]


def test_single_platform_build_is_captured_whole(engine: Engine, tmp_path: Path) -> None:
    ctx = _single(tmp_path)
    rec = record(engine, ctx, _single_cmd(ctx))
    assert rec.proc.returncode == 0, rec.proc.stderr
    assert f"wrote {rec.path}" in rec.proc.stderr

    cap = rec.capture
    assert cap.complete, cap.incomplete_reasons
    assert cap.invocation.kind is CommandKind.BUILDX_BUILD
    assert "--metadata-file" in cap.invocation.added_flags
    assert cap.builder is not None and cap.builder.workers
    assert cap.builder.engine_version and cap.builder.engine_version[0].isdigit()
    (build,) = cap.builds
    assert build.status_source is StatusSource.LIVE
    runs = [v for v in build.vertices if "RUN" in v.name or "/bin/sh" in v.name]
    assert len(runs) >= 2 and all(v.completed is not None for v in runs)
    assert any("visible-log-line" in log.text for log in build.logs)

    prov = build.provenance[""]
    execs = prov.steps_of(OpKind.EXEC)
    assert len(execs) == 2
    mounts = [m for s in execs if s.op.exec for m in s.op.exec.mounts]
    cache = [m for m in mounts if m.type is MountType.CACHE]
    secret = [m for m in mounts if m.type is MountType.SECRET]
    assert cache and cache[0].dest == "/cache" and cache[0].cache is not None
    assert cache[0].cache.id.endswith("ctcache")
    assert secret and secret[0].secret is not None and secret[0].secret.id == "tok"
    lines = {s.dockerfile_lines() for s in execs}
    assert lines == {(5, 6), (7,)}

    assert build.cache is not None and len(build.cache.records) >= 3
    # Exec keys were computed before redaction, and BuildKit exported exactly those keys.
    from cachetrace.graph.exec_key import record_digest

    keys = build.exec_keys[""]
    assert set(keys) == {s.id for s in execs}
    exported = {r.digest for r in build.cache.records}
    assert all(record_digest(d, 0) in exported for d in keys.values())
    assert build.layers and all(layer.scan is not None for layer in build.layers)
    names = {f.path for layer in build.layers if layer.scan for f in layer.scan.entries}
    assert "app/copy" in names or "/app/copy" in names

    # Planted secrets appear nowhere in the file.
    for planted in (GH_TOKEN, PROXY_PASSWORD, SECRET_VALUE, NPM_TOKEN_VALUE):
        assert planted.encode() not in rec.raw, planted


def test_capture_validates_against_schema(engine: Engine, tmp_path: Path) -> None:
    import jsonschema

    ctx = _single(tmp_path)
    rec = record(
        engine, ctx, ["docker", "buildx", "build", "--secret", f"id=tok,src={ctx / 'tok.txt'}", "."]
    )
    assert rec.proc.returncode == 0, rec.proc.stderr
    schema = json.loads((Path(__file__).parents[2] / "docs" / "capture.schema.json").read_text())
    jsonschema.validate(json.loads(rec.raw), schema)


MULTI = """\
FROM --platform=$BUILDPLATFORM busybox:local AS build
ARG TARGETARCH
RUN echo "$TARGETARCH" > /arch
FROM scratch
COPY --from=build /arch /arch
"""


def test_multi_platform_local_output(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(MULTI)
    rec = record(
        engine,
        tmp_path,
        [
            "docker",
            "buildx",
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            "type=local,dest=out",
            ".",
        ],
    )
    assert rec.proc.returncode == 0, rec.proc.stderr
    (build,) = rec.capture.builds
    assert set(build.provenance) == {"linux/amd64", "linux/arm64"}
    exports = {e.platform: e for e in build.exports}
    assert set(exports) == {"linux/amd64", "linux/arm64"}
    for e in exports.values():
        assert e.scan is not None
        assert "arch" in {f.path.lstrip("/") for f in e.scan.entries}
    assert build.cache is not None and build.cache.records


def test_failed_build_exit_code_and_incomplete_capture(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo about-to-fail && exit 3\n")
    rec = record(engine, tmp_path, ["docker", "buildx", "build", "--no-cache", "."])
    assert rec.proc.returncode == 1  # buildx's own exit code, passed through
    cap = rec.capture
    assert not cap.complete
    assert any("exited 1" in r for r in cap.incomplete_reasons)
    (build,) = cap.builds
    assert not build.complete
    assert build.record is not None and build.record.error is not None
    assert any(v.error for v in build.vertices)
    assert any("about-to-fail" in log.text for log in build.logs)
    parts = {m.part: m.reason for m in build.missing}
    assert "provenance" in parts and "failed" in parts["provenance"]


def test_sigint_during_build_leaves_incomplete_capture(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo started && sleep 60\n")
    rec = record_interrupted(
        engine, tmp_path, ["docker", "buildx", "build", "--no-cache", "."], after=5.0
    )
    assert rec.proc.returncode != 0
    assert rec.path.exists(), rec.proc.stderr
    cap = rec.capture
    assert not cap.complete
    assert cap.invocation.signal == "SIGINT"
    assert cap.builds, "the interrupted build is still captured"
    assert not cap.builds[0].complete


BAKE = """\
group "default" { targets = ["one", "two"] }
target "one" { dockerfile = "one.Dockerfile" }
target "two" { dockerfile = "two.Dockerfile" }
"""


def test_bake_two_targets(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    (tmp_path / "one.Dockerfile").write_text("FROM busybox:local\nRUN echo one > /one\n")
    (tmp_path / "two.Dockerfile").write_text("FROM busybox:local\nRUN echo two > /two\n")
    rec = record(engine, tmp_path, ["docker", "buildx", "bake", "--no-cache"])
    assert rec.proc.returncode == 0, rec.proc.stderr
    cap = rec.capture
    assert cap.invocation.kind is CommandKind.BAKE
    assert {b.target for b in cap.builds} == {"one", "two"}
    assert len({b.ref for b in cap.builds}) == 2
    for b in cap.builds:
        assert b.complete and b.cache is not None and b.cache.records
        assert b.provenance


def test_user_cache_to_and_metadata_file_are_kept(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo mine > /mine\n")
    command = [
        "docker",
        "buildx",
        "build",
        "--metadata-file",
        "my-meta.json",
        "--cache-to",
        "type=local,dest=my-cache,mode=max",
        ".",
    ]
    rec = record(engine, tmp_path, command)
    assert rec.proc.returncode == 0, rec.proc.stderr
    cap = rec.capture
    assert cap.invocation.added_flags == ()
    assert cap.invocation.run_argv == tuple(command)
    assert json.loads((tmp_path / "my-meta.json").read_text())["buildx.build.ref"]
    assert (tmp_path / "my-cache" / "index.json").exists()  # still the user's export
    (build,) = cap.builds
    assert build.cache is not None and build.cache.records


def test_unreachable_builder_fails_before_the_child(engine: Engine, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    rec = record(
        engine,
        tmp_path,
        ["docker", "buildx", "build", "."],
        env={"DOCKER_HOST": f"unix://{tmp_path}/nope.sock"},
    )
    assert rec.proc.returncode == 3
    assert rec.proc.stderr.count("\n") == 1 and "Traceback" not in rec.proc.stderr
    assert not marker.exists() and not rec.path.exists()


def test_no_fail_runs_the_command_anyway(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    rec = record(
        engine,
        tmp_path,
        ["docker", "buildx", "build", "."],
        extra=["--no-fail"],
        env={"DOCKER_HOST": f"unix://{tmp_path}/nope.sock"},
    )
    assert rec.proc.returncode == 1  # docker's own failure, passed through
    assert "running the command anyway" in rec.proc.stderr
    cap = rec.capture
    assert cap.builder is None and not cap.complete
    assert any("builder unreachable" in r for r in cap.incomplete_reasons)


def test_record_ref_captures_a_finished_build(engine: Engine, tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo later > /later\n")
    engine.docker("buildx", "build", "--metadata-file", str(tmp_path / "m.json"), str(tmp_path))
    ref = json.loads((tmp_path / "m.json").read_text())["buildx.build.ref"].rsplit("/", 1)[-1]
    out = tmp_path / "from-history.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cachetrace", "record", "--ref", ref, "-o", str(out)],
        env=engine.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    from cachetrace.capture_io.files import load_capture

    cap = load_capture(out)
    assert cap.invocation.kind is CommandKind.HISTORY
    (build,) = cap.builds
    assert build.ref == ref and build.complete
    assert build.status_source is StatusSource.REPLAY
    assert build.provenance[""].steps_of(OpKind.EXEC)
    missing = {m.part: m.reason for m in build.missing}
    assert "--cache-dir" in missing["cache_export"]
