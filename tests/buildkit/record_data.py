"""Re-record the protobuf test data in ``tests/buildkit/data/`` from the real engine.

    .venv/bin/python -m tests.buildkit.record_data

Runs three small builds on the engine of ``scripts/engine.sh`` and saves raw bytes exactly as
BuildKit sent them. Multi-message files use BuildKit's own status-log framing
(``[uint32 little-endian length][message]``, repeated):

- ``status-live.bin``     StatusResponse messages of the ``WARNED`` build, watched live
- ``status-log.bin``      the same build's history logs blob (application/vnd.buildkit.status.v0)
- ``history.bin``         BuildHistoryEvent messages: the warned, failed and multi-platform builds
- ``workers.bin``         one ListWorkersResponse
- ``info.bin``            one InfoResponse
- ``recorded.json``       which ref is which, each build's nonce, and the engine versions
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cachetrace._pb.buildkit import control_pb2
from cachetrace.buildkit.client import CONTROL, BuildkitClient
from cachetrace.buildkit.endpoints import resolve_endpoint
from tests.buildkit import builds
from tests.engine import start_engine

DATA = Path(__file__).resolve().parent / "data"


def frame(messages: Iterable[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(m)) + m for m in messages)


def _raw_stream(client: BuildkitClient, rpc: str, request: Any, response: Any) -> list[bytes]:
    # Test tooling may reach inside the client: the raw messages are what we want to keep.
    return [m.SerializeToString() for m in client._stream(CONTROL + rpc, request, response, rpc)]


def main() -> int:
    engine = start_engine()
    out = DATA
    out.mkdir(parents=True, exist_ok=True)
    endpoint = resolve_endpoint(env=engine.env)
    with tempfile.TemporaryDirectory() as tmp, BuildkitClient.connect(endpoint) as client:
        # The warned build, watched live from its STARTED event to the end of its Status stream.
        proc, warned_nonce = builds.start(engine, Path(tmp), builds.WARNED, "rec-warned")
        live: list[bytes] = []
        ref = ""
        for event in client.history(active_only=True, follow=True):
            if builds.nonce_of(event.record.frontend_attrs) == warned_nonce:
                ref = event.record.ref
                break
        live = _raw_stream(
            client, "Status", control_pb2.StatusRequest(Ref=ref), control_pb2.StatusResponse
        )
        if proc.wait(timeout=300) != 0:
            raise SystemExit("the warned build failed; see its build.log")
        failed = builds.build(engine, Path(tmp), builds.FAILING, "rec-failed", expect_ok=False)
        multi = builds.build(
            engine,
            Path(tmp),
            builds.MULTI,
            "rec-multi",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            f"type=local,dest={tmp}/multi-out",
        )
        time.sleep(1)
        events = _raw_stream(
            client,
            "ListenBuildHistory",
            control_pb2.BuildHistoryRequest(EarlyExit=True),
            control_pb2.BuildHistoryEvent,
        )
        keep: dict[str, bytes] = {}
        failed_ref = ""
        for raw in events:
            ev = control_pb2.BuildHistoryEvent.FromString(raw)
            r = ev.record
            if r.Ref in (ref, multi.ref):
                keep[r.Ref] = raw
            elif builds.nonce_of(dict(r.FrontendAttrs)) == failed.nonce:
                keep[r.Ref] = raw
                failed_ref = r.Ref
        if len(keep) != 3:
            raise SystemExit(f"expected 3 records, found {sorted(keep)}")
        record = client.record(ref)
        assert record.logs is not None
        (out / "status-live.bin").write_bytes(frame(live))
        (out / "status-log.bin").write_bytes(client.read_blob_bytes(record.logs))
        (out / "history.bin").write_bytes(frame(keep[k] for k in (ref, failed_ref, multi.ref)))
        workers = client._unary(
            CONTROL + "ListWorkers",
            control_pb2.ListWorkersRequest(),
            control_pb2.ListWorkersResponse,
            "ListWorkers",
        )
        (out / "workers.bin").write_bytes(workers.SerializeToString())
        info = client._unary(
            CONTROL + "Info", control_pb2.InfoRequest(), control_pb2.InfoResponse, "Info"
        )
        (out / "info.bin").write_bytes(info.SerializeToString())
        versions = engine.docker("version", "--format", "{{.Server.Version}}").stdout.decode()
        buildx = engine.docker("buildx", "version").stdout.decode()
        recorded = {
            "warned": {"ref": ref, "nonce": warned_nonce},
            "failed": {"ref": failed_ref, "nonce": failed.nonce},
            "multi": {"ref": multi.ref, "nonce": multi.nonce},
            "docker_engine": versions.strip(),
            "buildx": buildx.strip(),
        }
        (out / "recorded.json").write_text(json.dumps(recorded, indent=2) + "\n")
    print(f"recorded into {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
