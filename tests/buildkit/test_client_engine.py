"""The BuildKit client against the real engine: transports, history, status, blobs, provenance."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachetrace.buildkit.client import BuildkitClient, find_provenance
from cachetrace.buildkit.endpoints import Endpoint, Transport, resolve_endpoint
from cachetrace.buildkit.status import BuildStatus
from cachetrace.errors import EngineError, NotAvailableError, ProtocolError
from cachetrace.model.build import BuildState, HistoryEventType, HistoryRecord
from cachetrace.model.llb import MountType, OpKind
from tests.buildkit import builds
from tests.engine import Engine

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[BuildkitClient]:
    endpoint = resolve_endpoint(env=engine.env)
    assert endpoint.transport is Transport.DOCKER_SOCKET
    with BuildkitClient.connect(endpoint) as c:
        yield c


@pytest.fixture(scope="module")
def warned(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> builds.Built:
    return builds.build(engine, tmp_path_factory.mktemp("warned"), builds.WARNED, "warned")


def _record(client: BuildkitClient, ref: str) -> HistoryRecord:
    # A record is written when the build ends; give BuildKit a moment to finish it.
    for _ in range(50):
        record = client.record(ref)
        if record.completed_at is not None:
            return record
        time.sleep(0.1)
    return record


def _by_nonce(client: BuildkitClient, nonce: str) -> HistoryRecord:
    for event in client.history():
        if builds.nonce_of(event.record.frontend_attrs) == nonce:
            return event.record
    raise AssertionError(f"no history record for nonce {nonce}")


@pytest.fixture(scope="module")
def checks(engine: Engine) -> bool:
    return builds.has_build_checks(engine)


def test_docker_socket_relay(client: BuildkitClient, warned: builds.Built) -> None:
    info = client.info()
    assert info.package == "github.com/moby/buildkit"
    (worker,) = client.workers()
    assert "linux/amd64" in {p.spec for p in worker.platforms}
    assert client.disk_usage()  # at least the layers of the build just made
    assert "docker socket unix://" in client.endpoint.description


def test_dial_stdio(engine: Engine, warned: builds.Built) -> None:
    command = ("docker", "buildx", "dial-stdio", "--progress=quiet", "--builder", "default")
    endpoint = Endpoint(
        Transport.DIAL_STDIO, " ".join(command), "dial-stdio", command=command, env=engine.env
    )
    before = threading.active_count()
    with BuildkitClient.connect(endpoint) as c:
        assert c.info().package == "github.com/moby/buildkit"
        assert warned.ref in {e.record.ref for e in c.history()}
        assert c.record(warned.ref).state is BuildState.COMPLETED
    assert threading.active_count() <= before


@pytest.mark.parametrize(
    ("env", "addr", "expect"),
    [
        ({"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, None, "/nonexistent/docker.sock"),
        ({}, "unix:///nonexistent/buildkitd.sock", "No such file or directory"),
        ({}, "docker-container://cachetrace-no-such-container", "No such container"),
    ],
)
def test_bad_address_is_one_clear_line(
    engine: Engine, env: dict[str, str], addr: str | None, expect: str
) -> None:
    endpoint = resolve_endpoint(addr=addr, env={**engine.env, **env})
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        BuildkitClient.connect(endpoint)
    message = str(info.value)
    assert message.startswith("cannot reach BuildKit via ") and expect in message
    assert "\n" not in message
    assert time.monotonic() - started < 10


def test_history_listing(client: BuildkitClient, warned: builds.Built, checks: bool) -> None:
    events = list(client.history())
    assert events
    for e in events:  # other builds may be running on the shared daemon
        running = e.type is HistoryEventType.STARTED
        assert running == (e.record.state is BuildState.RUNNING), e
    record = next(e.record for e in events if e.record.ref == warned.ref)
    assert record.state is BuildState.COMPLETED
    assert record.num_completed_steps == record.num_total_steps >= 5
    assert record.num_warnings == (1 if checks else 0)
    # the counts agree with what the status stream shows
    replay = BuildStatus.from_updates(client.status(warned.ref))
    assert record.num_total_steps == len(replay.vertices)
    assert record.num_cached_steps == sum(v.cached for v in replay.vertices)
    assert record.num_warnings == len(replay.warnings)
    assert record.name == "Dockerfile"
    (only,) = client.history(ref=warned.ref)
    assert only.record == record
    with pytest.raises(NotAvailableError, match="no build history record"):
        client.record("nosuchref0000000000000000")


def test_live_status_of_a_running_build(
    engine: Engine, client: BuildkitClient, tmp_path: Path
) -> None:
    proc, nonce = builds.start(engine, tmp_path, builds.SLEEPY, "sleepy")
    try:
        ref = ""
        for event in client.history(active_only=True, follow=True):
            if builds.nonce_of(event.record.frontend_attrs) == nonce:
                assert event.type is HistoryEventType.STARTED
                assert event.record.state is BuildState.RUNNING
                ref = event.record.ref
                break
        status = BuildStatus()
        seen_running = False
        for update in client.status(ref):
            status.apply(update)
            run = next((v for v in status.vertices if "sleep 3" in v.name), None)
            if run is not None and run.started is not None and run.completed is None:
                seen_running = True
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen_running, "no update showed the RUN step in progress"
    run = next(v for v in status.vertices if "sleep 3" in v.name)
    assert run.completed is not None and run.started is not None
    assert run.completed - run.started >= 2.5
    assert status.output(run.digest) == f"start {nonce}\ndone {nonce}\n"
    assert status.done
    assert _record(client, ref).state is BuildState.COMPLETED


def test_replay_of_a_completed_build(
    client: BuildkitClient, warned: builds.Built, checks: bool
) -> None:
    replay = BuildStatus.from_updates(client.status(warned.ref))
    run = next(v for v in replay.vertices if "RUN echo hello" in v.name)
    assert replay.output(run.digest, 1) == f"hello-{warned.nonce}\n"
    assert replay.output(run.digest, 2) == f"to-stderr-{warned.nonce}\n"
    if checks:
        (warning,) = replay.warnings
        assert warning.short.startswith("FromAsCasing") and warning.ranges[0].start_line == 1
        assert warning.source is not None and warning.source.filename == "Dockerfile"
    else:
        assert replay.warnings == ()
    record = client.record(warned.ref)
    from_log = BuildStatus.from_updates(client.status_log(record))
    assert {v.digest for v in from_log.vertices} == {v.digest for v in replay.vertices}
    assert from_log.output(run.digest) == replay.output(run.digest)


def test_read_blob(client: BuildkitClient, warned: builds.Built) -> None:
    record = client.record(warned.ref)
    assert record.logs is not None
    chunks = list(client.read_blob(record.logs))
    assert sum(len(c) for c in chunks) == record.logs.size
    assert client.read_blob_bytes(record.logs.digest) == b"".join(chunks)
    with pytest.raises(ProtocolError, match="larger than 10 bytes"):
        client.read_blob_bytes(record.logs, cap=10)
    with pytest.raises(NotAvailableError, match="not found"):
        client.read_blob_bytes("sha256:" + "0" * 64)


def test_provenance_of_a_single_platform_build(
    client: BuildkitClient, warned: builds.Built
) -> None:
    record = client.record(warned.ref)
    assert set(find_provenance(record)) == {""}
    raw = client.provenance_bytes(record)
    assert json.loads(raw)["buildType"] == "https://mobyproject.org/buildkit@v1"
    prov = client.provenance(record)
    assert prov.result_platform is None
    execs = prov.steps_of(OpKind.EXEC)
    assert len(execs) == 2
    hello = next(s for s in execs if f"hello-{warned.nonce}" in " ".join(s.op.exec.meta.args))  # type: ignore[union-attr]
    assert hello.dockerfile_lines() == (2,)
    cached = next(s for s in execs if s is not hello)
    assert cached.op.exec is not None
    (cache_mount,) = cached.op.exec.mounts_of(MountType.CACHE)
    assert cache_mount.dest == "/cache"
    assert (
        cache_mount.cache is not None and cache_mount.cache.id == f"/ct-{warned.nonce}"
    )  # the frontend roots ids at /
    assert cached.dockerfile_lines() == (3,)
    # the status stream's vertex digests map onto provenance steps
    replay = BuildStatus.from_updates(client.status(warned.ref))
    mapped = [prov.step_by_digest(v.digest) for v in replay.vertices]
    assert {s.id for s in mapped if s is not None} >= {hello.id, cached.id}


def test_provenance_of_a_multi_platform_build(
    engine: Engine, client: BuildkitClient, tmp_path: Path
) -> None:
    built = builds.build(
        engine,
        tmp_path,
        builds.MULTI,
        "multi",
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        f"type=local,dest={tmp_path}/out",
    )
    record = _record(client, built.ref)
    assert set(find_provenance(record)) == {"linux/amd64", "linux/arm64"}
    with pytest.raises(NotAvailableError, match="choose one of linux/amd64, linux/arm64"):
        client.provenance(record)
    with pytest.raises(NotAvailableError, match="no provenance for linux/s390x"):
        client.provenance(record, "linux/s390x")
    arm = client.provenance(record, "linux/arm64")
    assert arm.result_platform is not None and arm.result_platform.architecture == "arm64"
    both = client.provenances(record)
    assert set(both) == {"linux/amd64", "linux/arm64"}
    for platform, prov in both.items():
        (run,) = prov.steps_of(OpKind.EXEC)
        assert run.op.exec is not None
        arch = platform.split("/")[1]
        assert run.op.exec.meta.env_dict().get("TARGETARCH") == arch
        assert run.op.platform is not None and run.op.platform.architecture == "amd64"
    assert (tmp_path / "out" / "linux_arm64" / "out.txt").read_text() == f"{built.nonce} arm64\n"


def test_failed_build_has_no_provenance_and_says_why(
    engine: Engine, client: BuildkitClient, tmp_path: Path
) -> None:
    failed = builds.build(engine, tmp_path, builds.FAILING, "failed", expect_ok=False)
    record = _by_nonce(client, failed.nonce)
    assert record.state is BuildState.FAILED
    assert record.error is not None and "exit code: 3" in record.error.message
    assert find_provenance(record) == {}
    with pytest.raises(NotAvailableError, match="the build failed") as info:
        client.provenance(record)
    assert "\n" not in str(info.value)
    # the status stream still tells what ran and how it ended
    status = BuildStatus.from_updates(client.status(record.ref))
    bad = next(v for v in status.vertices if "about to fail" in v.name)
    assert "exit code: 3" in bad.error
    assert status.output(bad.digest) == f"about to fail {failed.nonce}\n"
