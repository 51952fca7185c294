"""pb -> model conversion: completeness over our protos, and real recorded BuildKit bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor as PbDescriptor
from google.protobuf.descriptor import FieldDescriptor

from cachetrace._pb.buildkit import control_pb2, worker_pb2
from cachetrace.buildkit import convert
from cachetrace.buildkit.status import BuildStatus
from cachetrace.errors import ProtocolError
from cachetrace.model.build import BuildState, HistoryEventType, StatusUpdate

DATA = Path(__file__).resolve().parent / "data"
RECORDED = json.loads((DATA / "recorded.json").read_text())

# Each converter and the message it takes.
CONVERTERS: dict[str, Callable[[Any], object]] = {
    "moby.buildkit.v1.StatusResponse": convert.to_status_update,
    "moby.buildkit.v1.Vertex": convert.to_vertex,
    "pb.ProgressGroup": convert.to_progress_group,
    "moby.buildkit.v1.VertexStatus": convert.to_vertex_status,
    "moby.buildkit.v1.VertexLog": convert.to_vertex_log,
    "moby.buildkit.v1.VertexWarning": convert.to_vertex_warning,
    "pb.SourceInfo": convert.to_source_file,
    "pb.Range": convert.to_source_range,
    "moby.buildkit.v1.BuildHistoryEvent": convert.to_history_event,
    "moby.buildkit.v1.BuildHistoryRecord": convert.to_history_record,
    "moby.buildkit.v1.Exporter": convert.to_exporter,
    "google.rpc.Status": convert.to_build_error,
    "moby.buildkit.v1.Descriptor": convert.to_descriptor,
    "moby.buildkit.v1.BuildResultInfo": convert.to_build_result,
    "moby.buildkit.v1.types.WorkerRecord": convert.to_worker,
    "moby.buildkit.v1.types.GCPolicy": convert.to_gc_policy,
    "moby.buildkit.v1.types.BuildkitVersion": convert.to_buildkit_info,
    "pb.Platform": convert.to_platform,
    "moby.buildkit.v1.UsageRecord": convert.to_cache_usage,
    "moby.buildkit.v1.types.CDIDevice": lambda pb: convert.to_worker(
        worker_pb2.WorkerRecord(CDIDevices=[pb])
    ),
    "pb.Position": lambda pb: convert.to_source_range(
        control_pb2.VertexWarning().ranges.add(start=pb)
    ),
    "moby.buildkit.v1.InfoResponse": lambda pb: convert.to_buildkit_info(pb.buildkitVersion),
}
# Messages the client converts from the wire; everything they reach must be accounted for.
ROOTS = [
    "moby.buildkit.v1.StatusResponse",
    "moby.buildkit.v1.BuildHistoryEvent",
    "moby.buildkit.v1.types.WorkerRecord",
    "moby.buildkit.v1.InfoResponse",
    "moby.buildkit.v1.UsageRecord",
]
OPAQUE = {"google.protobuf.Timestamp", "google.protobuf.Any"}


def _msg(name: str) -> PbDescriptor:
    return descriptor_pool.Default().FindMessageTypeByName(name)


def _field_message(field: FieldDescriptor) -> PbDescriptor | None:
    if field.message_type is None:
        return None
    if field.message_type.GetOptions().map_entry:
        return field.message_type.fields_by_name["value"].message_type
    return field.message_type


def _reachable() -> set[str]:
    seen: set[str] = set()
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in seen or name in OPAQUE:
            continue
        seen.add(name)
        ignored = convert.IGNORED.get(name, {})
        for field in _msg(name).fields:
            sub = _field_message(field)
            if sub is not None and field.name not in ignored:
                todo.append(sub.full_name)
    return seen


def test_every_field_is_converted_or_deliberately_ignored() -> None:
    for name in sorted(_reachable()):
        assert name in convert.CONVERTED, f"{name} is reachable but has no converter entry"
        fields = {f.name for f in _msg(name).fields}
        converted = convert.CONVERTED[name]
        ignored = set(convert.IGNORED.get(name, {}))
        assert not converted & ignored, name
        assert converted | ignored == fields, (
            f"{name}: unaccounted {sorted(fields - converted - ignored)}, "
            f"unknown {sorted((converted | ignored) - fields)}"
        )
    assert set(convert.CONVERTED) == _reachable()


def _value(field: FieldDescriptor) -> object:
    if field.type == FieldDescriptor.TYPE_STRING:
        return "x"
    if field.type == FieldDescriptor.TYPE_BYTES:
        return b"x"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values[-1].number
    return 7


def _fill(msg: Any, field: FieldDescriptor) -> None:
    """Give ``field`` of ``msg`` a non-default value."""
    target = getattr(msg, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        key = _value(key_field)
        if value_field.message_type is None:
            target[key] = _value(value_field)
        else:
            _fill_any(target[key])
    elif field.is_repeated:
        if field.message_type is None:
            target.append(_value(field))
        else:
            _fill_any(target.add())
    elif field.message_type is not None:
        _fill_any(target)
    else:
        setattr(msg, field.name, _value(field))


def _fill_any(msg: Any) -> None:
    if msg.DESCRIPTOR.full_name == "google.protobuf.Timestamp":
        msg.seconds = 5
        return
    _fill(msg, msg.DESCRIPTOR.fields[0])


@pytest.mark.parametrize("name", sorted(convert.CONVERTED))
def test_every_converted_field_reaches_the_model(name: str) -> None:
    desc = _msg(name)
    make = message_factory.GetMessageClass(desc)
    convert_fn = CONVERTERS[name]
    empty = convert_fn(make())
    for field_name in sorted(convert.CONVERTED[name]):
        msg = make()
        _fill(msg, desc.fields_by_name[field_name])
        assert convert_fn(msg) != empty, f"{name}.{field_name} does not reach the model"


def _frames(name: str) -> list[bytes]:
    return list(convert.iter_status_log((DATA / name).read_bytes()))


def _updates(name: str) -> list[StatusUpdate]:
    return [
        convert.to_status_update(control_pb2.StatusResponse.FromString(b)) for b in _frames(name)
    ]


def test_recorded_live_status_stream() -> None:
    nonce = RECORDED["warned"]["nonce"]
    updates = _updates("status-live.bin")
    assert len(updates) > 5
    status = BuildStatus.from_updates(updates)
    # vertices were re-sent as they changed, and merging kept one per digest
    assert sum(len(u.vertexes) for u in updates) > len(status.vertices)
    assert len({v.digest for v in status.vertices}) == len(status.vertices)
    assert all(v.completed is not None and v.started is not None for v in status.vertices)
    assert all(v.started <= v.completed for v in status.vertices)  # type: ignore[operator]
    run = next(v for v in status.vertices if v.name.startswith("[base 2/3] RUN echo hello"))
    assert run.inputs and not run.cached and run.error == ""
    assert status.output(run.digest, 1) == f"hello-{nonce}\n"
    assert status.output(run.digest, 2) == f"to-stderr-{nonce}\n"
    base = next(v for v in status.vertices if "[base 1/3] FROM" in v.name)
    assert base.cached
    (warning,) = status.warnings
    assert warning.short.startswith("FromAsCasing:")
    assert warning.url.startswith("https://docs.docker.com/")
    assert warning.source is not None and warning.source.filename == "Dockerfile"
    assert warning.source.data.startswith("FROM busybox:local as base\n")
    assert warning.ranges[0].start_line == 1
    assert status.done


def test_recorded_status_log_blob_matches_the_live_stream() -> None:
    live = BuildStatus.from_updates(_updates("status-live.bin"))
    replay = BuildStatus.from_updates(_updates("status-log.bin"))
    assert {v.digest: v for v in replay.vertices} == {v.digest: v for v in live.vertices}
    assert [(lg.vertex, lg.stream, lg.msg) for lg in replay.logs] == [
        (lg.vertex, lg.stream, lg.msg) for lg in live.logs
    ]
    assert replay.warnings == live.warnings


def test_recorded_history_records() -> None:
    events = [
        convert.to_history_event(control_pb2.BuildHistoryEvent.FromString(b))
        for b in _frames("history.bin")
    ]
    warned, failed, multi = (e.record for e in events)
    assert all(e.type is HistoryEventType.COMPLETE for e in events)
    assert warned.ref == RECORDED["warned"]["ref"]
    assert warned.state is BuildState.COMPLETED and warned.error is None
    assert warned.num_warnings == 1
    assert warned.num_completed_steps == warned.num_total_steps > 0
    assert warned.created_at is not None and warned.duration is not None and warned.duration > 0
    assert (
        warned.logs is not None and warned.logs.media_type == "application/vnd.buildkit.status.v0"
    )
    assert warned.logs.size == (DATA / "status-log.bin").stat().st_size
    assert warned.frontend_attrs["build-arg:CACHETRACE_TEST_NONCE"] == RECORDED["warned"]["nonce"]
    (att,) = warned.attestations()[""]
    assert att.media_type == "application/vnd.in-toto+json"
    assert att.annotations["in-toto.io/predicate-type"].startswith("https://slsa.dev/provenance/")

    assert failed.state is BuildState.FAILED and failed.error is not None
    assert RECORDED["failed"]["nonce"] in failed.error.message
    assert "exit code: 3" in failed.error.message
    assert failed.attestations() == {}
    assert failed.external_error is not None

    assert set(multi.results) == {"linux/amd64", "linux/arm64"}
    assert multi.result is None or not multi.result.attestations
    assert set(multi.attestations()) == {"linux/amd64", "linux/arm64"}


def test_recorded_workers_and_info() -> None:
    reply = control_pb2.ListWorkersResponse.FromString((DATA / "workers.bin").read_bytes())
    (worker,) = (convert.to_worker(w) for w in reply.record)
    assert "linux/amd64" in {p.spec for p in worker.platforms}
    assert worker.snapshotter is not None
    assert worker.gc_policies and worker.gc_policies[0].keep_duration > 0
    info = control_pb2.InfoResponse.FromString((DATA / "info.bin").read_bytes())
    assert convert.to_buildkit_info(info.buildkitVersion).package == "github.com/moby/buildkit"


def test_status_log_framing_errors() -> None:
    good = (DATA / "status-log.bin").read_bytes()
    with pytest.raises(ProtocolError, match="truncated"):
        list(convert.iter_status_log(good[:-3]))
    with pytest.raises(ProtocolError, match="length prefix"):
        list(convert.iter_status_log(good + b"\x01\x00"))
    assert list(convert.iter_status_log(b"")) == []


def test_unknown_history_event_type_is_a_protocol_error() -> None:
    ev = control_pb2.BuildHistoryEvent()
    ev.record.Ref = "r"
    ev.type = 9  # type: ignore[assignment]  # open enums keep unknown numbers
    with pytest.raises(ProtocolError, match="event type 9"):
        convert.to_history_event(ev)
