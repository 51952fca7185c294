"""Protobuf messages -> ``cachetrace.model.build`` objects (``to_*`` functions).

Raw protobuf objects never leave ``cachetrace.buildkit``: everything the client returns goes
through here. ``CONVERTED`` and ``IGNORED`` list, per message, which fields are carried into
the model and which are dropped on purpose (with why); a test checks that together they cover
every field our protos define, so a new field in ``protos/`` cannot be silently lost.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from cachetrace.errors import ProtocolError
from cachetrace.model.build import (
    BuildError,
    BuildkitInfo,
    BuildResult,
    CacheUsage,
    Exporter,
    GCPolicy,
    HistoryEvent,
    HistoryEventType,
    HistoryRecord,
    ProgressGroup,
    SourceFile,
    SourceRange,
    StatusUpdate,
    Vertex,
    VertexLog,
    VertexStatus,
    VertexWarning,
    Worker,
)
from cachetrace.model.oci import Descriptor, Platform

# Protobuf messages are untyped here (generated code is not type-checked).
Msg = Any

CONVERTED: dict[str, frozenset[str]] = {
    "moby.buildkit.v1.StatusResponse": frozenset({"vertexes", "statuses", "logs", "warnings"}),
    "moby.buildkit.v1.Vertex": frozenset(
        {"digest", "inputs", "name", "cached", "started", "completed", "error", "progressGroup"}
    ),
    "pb.ProgressGroup": frozenset({"id", "name", "weak"}),
    "moby.buildkit.v1.VertexStatus": frozenset(
        {"ID", "vertex", "name", "current", "total", "timestamp", "started", "completed"}
    ),
    "moby.buildkit.v1.VertexLog": frozenset({"vertex", "timestamp", "stream", "msg"}),
    "moby.buildkit.v1.VertexWarning": frozenset(
        {"vertex", "level", "short", "detail", "url", "info", "ranges"}
    ),
    "pb.SourceInfo": frozenset({"filename", "data", "language"}),
    "pb.Range": frozenset({"start", "end"}),
    "pb.Position": frozenset({"line", "character"}),
    "moby.buildkit.v1.BuildHistoryEvent": frozenset({"type", "record"}),
    "moby.buildkit.v1.BuildHistoryRecord": frozenset(
        {
            "Ref",
            "Frontend",
            "FrontendAttrs",
            "Exporters",
            "error",
            "CreatedAt",
            "CompletedAt",
            "logs",
            "ExporterResponse",
            "Result",
            "Results",
            "Generation",
            "trace",
            "pinned",
            "numCachedSteps",
            "numTotalSteps",
            "numCompletedSteps",
            "externalError",
            "numWarnings",
        }
    ),
    "moby.buildkit.v1.Exporter": frozenset({"Type", "Attrs"}),
    "google.rpc.Status": frozenset({"code", "message"}),
    "moby.buildkit.v1.Descriptor": frozenset({"media_type", "digest", "size", "annotations"}),
    "moby.buildkit.v1.BuildResultInfo": frozenset({"ResultDeprecated", "Attestations", "Results"}),
    "moby.buildkit.v1.types.WorkerRecord": frozenset(
        {"ID", "Labels", "platforms", "GCPolicy", "BuildkitVersion", "CDIDevices"}
    ),
    "moby.buildkit.v1.types.GCPolicy": frozenset(
        {"all", "keepDuration", "filters", "reservedSpace", "maxUsedSpace", "minFreeSpace"}
    ),
    "moby.buildkit.v1.types.BuildkitVersion": frozenset(
        {"package", "version", "revision", "dockerfileVersion"}
    ),
    "moby.buildkit.v1.types.CDIDevice": frozenset({"Name"}),
    "pb.Platform": frozenset({"Architecture", "OS", "Variant", "OSVersion", "OSFeatures"}),
    "moby.buildkit.v1.InfoResponse": frozenset({"buildkitVersion"}),
    "moby.buildkit.v1.UsageRecord": frozenset(
        {
            "ID",
            "Mutable",
            "InUse",
            "Size",
            "CreatedAt",
            "LastUsedAt",
            "UsageCount",
            "Description",
            "RecordType",
            "Shared",
            "Parents",
        }
    ),
}

IGNORED: dict[str, dict[str, str]] = {
    "pb.SourceInfo": {"definition": "an LLB definition of the frontend's own sources; unused"},
    "google.rpc.Status": {"details": "typed Any payloads (stack traces); the message suffices"},
    "moby.buildkit.v1.types.CDIDevice": {
        "AutoAllow": "device policy; cachetrace only reports which devices exist",
        "Annotations": "device policy; cachetrace only reports which devices exist",
        "OnDemand": "device policy; cachetrace only reports which devices exist",
    },
    "moby.buildkit.v1.UsageRecord": {"Parent": "deprecated upstream in favour of Parents"},
}


def _ts(msg: Msg, name: str) -> float | None:
    """A google.protobuf.Timestamp field as float epoch seconds, None when unset."""
    if not msg.HasField(name):
        return None
    ts = getattr(msg, name)
    return float(ts.seconds) + float(ts.nanos) / 1e9


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def to_progress_group(pb: Msg) -> ProgressGroup:
    return ProgressGroup(id=pb.id, name=pb.name, weak=pb.weak)


def to_vertex(pb: Msg) -> Vertex:
    return Vertex(
        digest=pb.digest,
        name=pb.name,
        inputs=tuple(pb.inputs),
        cached=pb.cached,
        started=_ts(pb, "started"),
        completed=_ts(pb, "completed"),
        error=pb.error,
        progress_group=to_progress_group(pb.progressGroup)
        if pb.HasField("progressGroup")
        else None,
    )


def to_vertex_status(pb: Msg) -> VertexStatus:
    return VertexStatus(
        id=pb.ID,
        vertex=pb.vertex,
        name=pb.name,
        current=pb.current,
        total=pb.total,
        timestamp=_ts(pb, "timestamp"),
        started=_ts(pb, "started"),
        completed=_ts(pb, "completed"),
    )


def to_vertex_log(pb: Msg) -> VertexLog:
    return VertexLog(
        vertex=pb.vertex, stream=pb.stream, msg=_text(pb.msg), timestamp=_ts(pb, "timestamp")
    )


def to_source_range(pb: Msg) -> SourceRange:
    return SourceRange(
        start_line=pb.start.line,
        start_character=pb.start.character,
        end_line=pb.end.line,
        end_character=pb.end.character,
    )


def to_source_file(pb: Msg) -> SourceFile:
    return SourceFile(filename=pb.filename, language=pb.language, data=_text(pb.data))


def to_vertex_warning(pb: Msg) -> VertexWarning:
    return VertexWarning(
        vertex=pb.vertex,
        level=pb.level,
        short=_text(pb.short),
        detail=tuple(_text(d) for d in pb.detail),
        url=pb.url,
        source=to_source_file(pb.info) if pb.HasField("info") else None,
        ranges=tuple(to_source_range(r) for r in pb.ranges),
    )


def to_status_update(pb: Msg) -> StatusUpdate:
    return StatusUpdate(
        vertexes=tuple(to_vertex(v) for v in pb.vertexes),
        statuses=tuple(to_vertex_status(s) for s in pb.statuses),
        logs=tuple(to_vertex_log(lg) for lg in pb.logs),
        warnings=tuple(to_vertex_warning(w) for w in pb.warnings),
    )


def to_descriptor(pb: Msg) -> Descriptor:
    return Descriptor(
        media_type=pb.media_type,
        digest=pb.digest,
        size=pb.size,
        annotations=dict(sorted(pb.annotations.items())),
    )


def _opt_descriptor(pb: Msg, name: str) -> Descriptor | None:
    return to_descriptor(getattr(pb, name)) if pb.HasField(name) else None


def to_build_result(pb: Msg) -> BuildResult:
    return BuildResult(
        attestations=tuple(to_descriptor(d) for d in pb.Attestations),
        results={str(k): to_descriptor(pb.Results[k]) for k in sorted(pb.Results)},
        result=_opt_descriptor(pb, "ResultDeprecated"),
    )


def to_build_error(pb: Msg) -> BuildError:
    return BuildError(message=pb.message, code=pb.code)


def to_exporter(pb: Msg) -> Exporter:
    return Exporter(type=pb.Type, attrs=dict(sorted(pb.Attrs.items())))


def to_history_record(pb: Msg) -> HistoryRecord:
    return HistoryRecord(
        ref=pb.Ref,
        frontend=pb.Frontend,
        frontend_attrs=dict(sorted(pb.FrontendAttrs.items())),
        exporters=tuple(to_exporter(e) for e in pb.Exporters),
        error=to_build_error(pb.error) if pb.HasField("error") else None,
        created_at=_ts(pb, "CreatedAt"),
        completed_at=_ts(pb, "CompletedAt"),
        logs=_opt_descriptor(pb, "logs"),
        exporter_response=dict(sorted(pb.ExporterResponse.items())),
        result=to_build_result(pb.Result) if pb.HasField("Result") else None,
        results={k: to_build_result(pb.Results[k]) for k in sorted(pb.Results)},
        generation=pb.Generation,
        trace=_opt_descriptor(pb, "trace"),
        pinned=pb.pinned,
        num_cached_steps=pb.numCachedSteps,
        num_total_steps=pb.numTotalSteps,
        num_completed_steps=pb.numCompletedSteps,
        external_error=_opt_descriptor(pb, "externalError"),
        num_warnings=pb.numWarnings,
    )


_EVENT_TYPES = {
    0: HistoryEventType.STARTED,
    1: HistoryEventType.COMPLETE,
    2: HistoryEventType.DELETED,
}


def to_history_event(pb: Msg) -> HistoryEvent:
    try:
        kind = _EVENT_TYPES[pb.type]
    except KeyError:
        raise ProtocolError(f"unknown build history event type {pb.type}") from None
    return HistoryEvent(type=kind, record=to_history_record(pb.record))


def to_platform(pb: Msg) -> Platform:
    return Platform(
        os=pb.OS,
        architecture=pb.Architecture,
        variant=pb.Variant,
        os_version=pb.OSVersion,
        os_features=tuple(pb.OSFeatures),
    )


def to_buildkit_info(pb: Msg) -> BuildkitInfo:
    return BuildkitInfo(
        package=pb.package,
        version=pb.version,
        revision=pb.revision,
        dockerfile_version=pb.dockerfileVersion,
    )


def to_gc_policy(pb: Msg) -> GCPolicy:
    return GCPolicy(
        all=pb.all,
        keep_duration=pb.keepDuration / 1e9,  # Go time.Duration nanoseconds
        filters=tuple(pb.filters),
        reserved_space=pb.reservedSpace,
        max_used_space=pb.maxUsedSpace,
        min_free_space=pb.minFreeSpace,
    )


def to_worker(pb: Msg) -> Worker:
    version = None
    if pb.HasField("BuildkitVersion") and pb.BuildkitVersion.ByteSize():
        version = to_buildkit_info(pb.BuildkitVersion)
    return Worker(
        id=pb.ID,
        labels=dict(sorted(pb.Labels.items())),
        platforms=tuple(to_platform(p) for p in pb.platforms),
        buildkit_version=version,
        gc_policies=tuple(to_gc_policy(p) for p in pb.GCPolicy),
        cdi_devices=tuple(d.Name for d in pb.CDIDevices),
    )


def to_cache_usage(pb: Msg) -> CacheUsage:
    return CacheUsage(
        id=pb.ID,
        size=pb.Size,
        mutable=pb.Mutable,
        in_use=pb.InUse,
        shared=pb.Shared,
        created_at=_ts(pb, "CreatedAt"),
        last_used_at=_ts(pb, "LastUsedAt"),
        usage_count=pb.UsageCount,
        description=pb.Description,
        record_type=pb.RecordType,
        parents=tuple(pb.Parents),
    )


def iter_status_log(data: bytes) -> Iterator[bytes]:
    """Split a ``application/vnd.buildkit.status.v0`` blob into StatusResponse payloads.

    The blob is a sequence of ``[uint32 little-endian length][StatusResponse bytes]``.
    """
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise ProtocolError(f"status log truncated in a length prefix at byte {pos}")
        (size,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if pos + size > len(data):
            raise ProtocolError(f"status log truncated: record at byte {pos} wants {size} bytes")
        yield data[pos : pos + size]
        pos += size
