"""Decoding real provenance recorded from Docker Engine 28.5.2 (BuildKit, SLSA v0.2).

The fixtures come from ``scripts/record_provenance_fixtures.sh``; the Dockerfiles are in
that script and, base64-encoded, in each provenance itself. Expected lines are found in the
decoded Dockerfile text, not written down here, so re-recording keeps the tests meaningful.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from functools import cache
from pathlib import Path

import pytest

from cachetrace.buildkit.provenance import PREDICATE_V02, decode_provenance
from cachetrace.capture_io.codec import from_jsonable, to_jsonable
from cachetrace.model.llb import (
    SECRET_CAPABLE,
    CacheSharing,
    ExecOp,
    FileActionKind,
    HostIP,
    MountType,
    NetworkMode,
    OpKind,
    Provenance,
    ProvenanceMode,
    ProxyEnv,
    SecurityMode,
    SessionRef,
    SlsaVersion,
    Step,
    is_proxy_arg,
)
from cachetrace.model.oci import Descriptor, Platform

DATA = Path(__file__).parent / "data" / "provenance"
# The same Dockerfile and flags on Docker 28.5.2 (history predicate) and on Docker 26.1.5 /
# buildx 0.13.1 (the local exporter's in-toto statement; gogo-era JSON).
SINGLES = pytest.mark.parametrize("name", ["single", "single-docker26"])


@cache
def load(name: str) -> Provenance:
    return decode_provenance((DATA / f"{name}.json").read_bytes())


def lines_starting(p: Provenance, word: str) -> list[int]:
    text = p.sources[0].text
    return [i for i, line in enumerate(text.splitlines(), 1) if line.startswith(word + " ")]


def step_at_line(p: Provenance, line: int, kind: OpKind) -> Step:
    found = [s for s in p.steps_of(kind) if s.dockerfile_lines() == (line,)]
    assert len(found) == 1, (line, kind, found)
    return found[0]


def exec_at(p: Provenance, needle: str) -> ExecOp:
    """The exec op of the one RUN line containing ``needle``."""
    lines = [n for n in lines_starting(p, "RUN") if needle in p.sources[0].line(n)]
    assert len(lines) == 1, needle
    op = step_at_line(p, lines[0], OpKind.EXEC).op.exec
    assert op is not None
    return op


# --- the single-platform build ---------------------------------------------------------


@SINGLES
def test_single_envelope_facts(name: str) -> None:
    p = load(name)
    assert p.slsa_version is SlsaVersion.V0_2
    assert p.predicate_type == PREDICATE_V02
    assert p.build_type == "https://mobyproject.org/buildkit@v1"
    assert p.mode is ProvenanceMode.MAX
    assert p.request.frontend == "dockerfile.v0"
    assert p.request.config_source.entry_point == "Dockerfile"
    assert p.request.builder_platform == "linux/amd64"
    assert p.request.locals == ("context", "dockerfile")
    assert p.metadata.invocation_id
    assert p.metadata.started_on is not None and p.metadata.finished_on is not None
    assert 0 < p.metadata.finished_on - p.metadata.started_on < 600
    assert p.metadata.complete_request and p.metadata.complete_environment
    assert p.sources[0].filename == "Dockerfile" and p.sources[0].language == "Dockerfile"
    # The context was a git working tree: buildx sent vcs:* attrs, BuildKit moved them here.
    assert p.vcs["source"] == "https://git.invalid/cachetrace/fixture.git"
    assert re.fullmatch(r"[0-9a-f]{40}", p.vcs["revision"])
    assert not any(k.startswith("vcs:") for k in p.request.frontend_attrs)
    # The last step is the result vertex: no op, one input.
    assert p.steps[-1].op.kind is OpKind.NONE and len(p.steps[-1].inputs) == 1


@SINGLES
def test_every_run_line_is_one_exec_step_running_that_command(name: str) -> None:
    p = load(name)
    runs = lines_starting(p, "RUN")
    assert len(runs) == 8
    for line in runs:
        op = step_at_line(p, line, OpKind.EXEC).op.exec
        assert op is not None
        assert op.meta.args[:2] == ("/bin/sh", "-c")
        # The shell command is the line's tail once the RUN flags are gone.
        assert p.sources[0].line(line).endswith(" " + op.meta.args[2])
        assert op.security is SecurityMode.SANDBOX
    assert len(p.steps_of(OpKind.EXEC)) == len(runs)


@SINGLES
def test_cache_mount_id_and_sharing(name: str) -> None:
    op = exec_at(load(name), "type=cache")
    (cache_mount,) = op.mounts_of(MountType.CACHE)
    assert cache_mount.dest == "/root/.cache/go-build"
    assert cache_mount.cache is not None
    # The Dockerfile frontend prefixes the id with its cache namespace ("" + "/").
    assert cache_mount.cache.id == "/x"
    assert cache_mount.cache.sharing is CacheSharing.LOCKED
    assert (cache_mount.input, cache_mount.output) == (-1, -1)
    root = op.mounts[0]
    assert (root.dest, root.type, root.input, root.output) == ("/", MountType.BIND, 0, 0)


@SINGLES
def test_secret_mount_keeps_the_id_and_never_the_value(name: str) -> None:
    p = load(name)
    op = exec_at(p, "type=secret")
    (secret,) = op.mounts_of(MountType.SECRET)
    assert secret.dest == "/run/secrets/tok"
    assert secret.secret is not None and secret.secret.id == "tok"
    assert secret.secret.mode == 0o400
    assert p.request.secrets == (SessionRef("tok", optional=True),)
    assert "fixture-token-value" not in (DATA / f"{name}.json").read_text()
    assert "fixture-token-value" not in repr(p)


@SINGLES
def test_ssh_mount_and_agent_socket(name: str) -> None:
    p = load(name)
    op = exec_at(p, "type=ssh")
    (ssh,) = op.mounts_of(MountType.SSH)
    assert ssh.ssh is not None
    assert ssh.ssh.id == ""  # the default agent
    assert ssh.ssh.mode == 0o600
    assert op.meta.env_dict()["SSH_AUTH_SOCK"] == ssh.dest
    assert [r.id for r in p.request.ssh] == ["default"]


@SINGLES
def test_tmpfs_and_bind_from_another_stage(name: str) -> None:
    p = load(name)
    (tmpfs,) = exec_at(p, "type=tmpfs").mounts_of(MountType.TMPFS)
    assert (tmpfs.dest, tmpfs.tmpfs_size) == ("/scratch", 1048576)

    bind_line = next(n for n in lines_starting(p, "RUN") if "type=bind" in p.sources[0].line(n))
    step = step_at_line(p, bind_line, OpKind.EXEC)
    assert step.op.exec is not None
    (bind,) = [m for m in step.op.exec.mounts if m.dest == "/h"]
    assert bind.type is MountType.BIND and bind.readonly
    assert bind.selector == "/data"
    # Its input is the helper stage's RUN (the only RUN before the second FROM).
    helper = p.step(step.inputs[bind.input].step)
    assert helper.dockerfile_lines() == (lines_starting(p, "RUN")[0],)
    assert helper.op.exec is not None and "/data/h.txt" in helper.op.exec.meta.args[2]


@SINGLES
def test_network_user_workdir_env_and_hosts(name: str) -> None:
    p = load(name)
    assert exec_at(p, "--network=none").network is NetworkMode.NONE
    others = [s.op.exec for s in p.steps_of(OpKind.EXEC) if s.op.exec is not None]
    assert sum(op.network is NetworkMode.NONE for op in others) == 1

    (user_line,) = lines_starting(p, "USER")
    after_user = [s for s in p.steps_of(OpKind.EXEC) if s.dockerfile_lines()[0] > user_line]
    assert after_user and all(s.op.exec and s.op.exec.meta.user == "1000:1000" for s in after_user)
    assert all(op.meta.user in ("", "1000:1000") for op in others)

    (workdir_line,) = lines_starting(p, "WORKDIR")
    mkdir = step_at_line(p, workdir_line, OpKind.FILE).op.file
    assert mkdir is not None
    assert [(a.kind, a.dest) for a in mkdir.actions] == [(FileActionKind.MKDIR, "/app")]

    env = exec_at(p, "$GREETING").meta.env_dict()
    assert env["GREETING"] == "hello"  # ARG default
    assert env["VERSION"] == "2.0"  # ARG overridden by --build-arg
    assert env["APP_MODE"] == "production"  # ENV
    assert exec_at(p, "$GREETING").meta.cwd == "/app"
    assert all(op.meta.extra_hosts == (HostIP("fixture-host", "10.1.2.3"),) for op in others)
    assert p.request.frontend_attrs["add-hosts"] == "fixture-host=10.1.2.3"


@SINGLES
def test_proxy_build_args_go_to_proxy_env_not_env(name: str) -> None:
    p = load(name)
    assert p.request.build_args == {
        "VERSION": "2.0",
        "http_proxy": "http://proxy.invalid:3128",
        "NO_PROXY": "localhost,.internal",
    }
    assert {k for k in p.request.build_args if is_proxy_arg(k)} == {"NO_PROXY", "http_proxy"}
    for step in p.steps_of(OpKind.EXEC):
        meta = step.op.exec.meta if step.op.exec else None
        assert meta is not None
        assert meta.proxy_env == ProxyEnv(
            http_proxy="http://proxy.invalid:3128", no_proxy="localhost,.internal"
        )
        assert not any(is_proxy_arg(name) for name in meta.env_dict())
        # The raw op keeps it too, under the proto field name.
        assert step.op.raw["Op"]["exec"]["meta"]["proxy_env"] == meta.proxy_env.as_dict()
    # Marked for redaction.
    assert all(f.metadata.get(SECRET_CAPABLE) for f in dataclasses.fields(ProxyEnv))
    assert p.request.args()["build-arg:http_proxy"] == "http://proxy.invalid:3128"


@SINGLES
def test_copy_reads_the_context_source(name: str) -> None:
    p = load(name)
    (copy_line,) = [n for n in lines_starting(p, "COPY") if "--link" not in p.sources[0].line(n)]
    step = step_at_line(p, copy_line, OpKind.FILE)
    assert step.op.file is not None
    (action,) = step.op.file.actions
    assert (action.kind, action.src, action.dest) == (
        FileActionKind.COPY,
        "/hello.txt",
        "/app/hello.txt",
    )
    assert action.mode is None  # -1 in the op: keep the source's mode
    context = p.step(step.inputs[action.secondary_input].step)
    assert context.op.source is not None
    assert context.op.source.identifier == "local://context"
    assert context.op.source.scheme == "local"


@SINGLES
def test_copy_link_is_a_copy_onto_scratch_merged_into_the_stage(name: str) -> None:
    p = load(name)
    (link_line,) = [n for n in lines_starting(p, "COPY") if "--link" in p.sources[0].line(n)]
    merge = step_at_line(p, link_line, OpKind.MERGE)
    copy = step_at_line(p, link_line, OpKind.FILE)
    assert merge.op.merge is not None and merge.op.merge.inputs == (0, 1)
    lower, upper = (merge.inputs[i].step for i in merge.op.merge.inputs)
    assert upper == copy.id
    assert p.step(lower).op.kind is OpKind.FILE  # the plain COPY before it
    assert copy.op.file is not None
    (action,) = copy.op.file.actions
    assert action.input == -1  # scratch
    assert (action.src, action.dest) == ("/hello.txt", "/linked/hello.txt")
    if name == "single":  # the image export records layers per step
        # The merged state has one more layer than the stage it was merged into.
        (merged,) = p.layers_of(merge.id)
        assert merged[:-1] == p.layers_of(lower)[0]


@SINGLES
def test_digest_mapping_is_inverted_onto_steps(name: str) -> None:
    p = load(name)
    assert len(p.digest_mapping) == len(p.steps)
    for step in p.steps:
        assert step.digest is not None and step.digest.startswith("sha256:")
        assert p.step_by_digest(step.digest) is step
        assert p.digest_mapping[step.digest] == step.id
    assert p.step_by_digest("sha256:" + "0" * 64) is None


@SINGLES
def test_base_image_is_a_material(name: str) -> None:
    p = load(name)
    (base,) = [
        s for s in p.steps_of(OpKind.SOURCE) if s.op.source and s.op.source.scheme == "docker-image"
    ]
    assert base.op.source is not None
    base_digest = base.op.source.identifier.rsplit("@", 1)[1]
    (material,) = p.materials
    assert material.uri.startswith("pkg:docker/busybox@local")
    assert "sha256:" + material.digests["sha256"] == base_digest
    assert base.op.platform == Platform("linux", "amd64")
    # Both FROM lines use the same image: one source step, two locations.
    assert base.dockerfile_lines() == tuple(lines_starting(p, "FROM"))
    assert p.layers_of(base.id)[0][0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip"


def test_layers_grow_one_per_step() -> None:
    p = load("single")
    with_layers = [s for s in p.steps if p.layers_of(s.id)]
    assert len(with_layers) >= 9
    for step in with_layers:
        (chain,) = p.layers_of(step.id)
        assert all(isinstance(d, Descriptor) and d.size > 0 for d in chain)
        parent = p.layers_of(step.inputs[0].step) if step.inputs else ()
        if parent:
            assert chain[: len(parent[0])] == parent[0]
            assert len(chain) == len(parent[0]) + 1


@SINGLES
def test_the_dockerfile_is_decoded_with_its_own_small_llb(name: str) -> None:
    p = load(name)
    (src,) = p.sources
    assert src.text.startswith("FROM busybox:local AS helper\n")
    assert src.line(1) == "FROM busybox:local AS helper"
    assert src.line(0) == "" and src.line(10_000) == ""
    assert src.steps[0].op.source is not None
    assert src.steps[0].op.source.identifier == "local://dockerfile"
    assert {s.digest for s in src.steps} == set(src.digest_mapping)


@SINGLES
def test_round_trips_through_the_capture_codec(name: str) -> None:
    p = load(name)
    again = from_jsonable(Provenance, json.loads(json.dumps(to_jsonable(p))))
    assert again == p


def test_older_engine_json_quirks_decode_to_the_same_facts() -> None:
    old, new = load("single-docker26"), load("single")
    # Zero values written out, and a null op for the result vertex.
    assert old.steps[-1].op.raw == {"Op": None} and old.steps[-1].op.kind is OpKind.NONE
    (merge_old,) = old.steps_of(OpKind.MERGE)
    (merge_new,) = new.steps_of(OpKind.MERGE)
    assert merge_old.op.raw["Op"]["merge"]["inputs"][0] == {"input": 0}
    assert merge_new.op.raw["Op"]["merge"]["inputs"][0] == {}
    assert merge_old.op.merge == merge_new.op.merge
    # The older Dockerfile frontend gives secret and ssh mounts input 0, the newer -1.
    for needle in ("type=secret", "type=ssh"):
        (m_old,) = [m for m in exec_at(old, needle).mounts if m.type is not MountType.BIND]
        (m_new,) = [m for m in exec_at(new, needle).mounts if m.type is not MountType.BIND]
        assert (m_old.input, m_new.input) == (0, -1)
        assert dataclasses.replace(m_old, input=-1) == m_new


def test_statement_subjects_are_the_exported_files() -> None:
    p = load("single-docker26")
    subjects = {s.uri: s.digests for s in p.subjects}
    assert subjects["app/net"] == {"sha256": hashlib.sha256(b"offline\n").hexdigest()}
    assert subjects["linked/hello.txt"] == {
        "sha256": hashlib.sha256(b"hello from the context\n").hexdigest()
    }


# --- the two-platform build ------------------------------------------------------------


def test_multi_platform_steps_per_platform() -> None:
    amd = decode_provenance((DATA / "multi-amd64.json").read_bytes(), result_platform=None)
    arm = decode_provenance(
        (DATA / "multi-arm64.json").read_text(), result_platform=Platform("linux", "arm64")
    )
    assert arm.result_platform == Platform("linux", "arm64") and amd.result_platform is None
    (run_line,) = lines_starting(amd, "RUN")
    runs = {
        "amd64": step_at_line(amd, run_line, OpKind.EXEC),
        "arm64": step_at_line(arm, run_line, OpKind.EXEC),
    }
    for arch, step in runs.items():
        assert step.op.exec is not None
        assert step.op.exec.meta.env_dict()["TARGETARCH"] == arch
        assert step.op.exec.meta.env_dict()["TARGETOS"] == "linux"
        # FROM --platform=$BUILDPLATFORM: the RUN itself runs on the build platform.
        assert step.op.platform == Platform("linux", "amd64")
    assert runs["amd64"].digest != runs["arm64"].digest
    # The FROM scratch stage's COPY is a file op without a platform.
    (copy_line,) = lines_starting(amd, "COPY")
    for p in (amd, arm):
        copy = step_at_line(p, copy_line, OpKind.FILE)
        assert copy.op.platform is None
        assert p.step(copy.inputs[0].step).op.kind is OpKind.EXEC
        assert p.request.build_args == {}


# --- the failed build ------------------------------------------------------------------


def test_failed_build_record_has_no_provenance() -> None:
    """The recorded failed build: buildx lists no attachments (so nothing to decode)."""
    record = json.loads((DATA / "failed-inspect.json").read_text())
    assert record["Status"] == "failed"
    assert "exit code: 3" in record["Error"]["Message"]
    assert record["Error"]["Name"].endswith("RUN echo about to fail && exit 3")
    assert not record.get("Attachments")
    assert not record.get("Materials")


@pytest.mark.parametrize("name", ["single", "single-docker26", "multi-amd64", "multi-arm64"])
def test_every_op_keeps_its_raw_json(name: str) -> None:
    p = load(name)
    doc = json.loads((DATA / f"{name}.json").read_text())
    raw = doc.get("predicate", doc)  # single-docker26 is a whole in-toto statement
    for step, given in zip(p.steps, raw["buildConfig"]["llbDefinition"], strict=True):
        assert step.op.raw == given["op"]
        assert [f"{i.step}:{i.output}" for i in step.inputs] == given.get("inputs", [])
