"""One recorded run of ``cachetrace record``: the invocation, the builder, and its builds.

A capture file holds one ``Capture``; a ``Capture`` holds one ``Build`` per BuildKit build the
wrapped command started (one for ``docker buildx build``, one per target for ``bake``). Every
part that could not be recorded is listed in ``Build.missing`` with the reason, so an absent
part is never mistaken for an empty one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cachetrace.model import JSONValue
from cachetrace.model.build import BuildkitInfo, HistoryRecord, Vertex, VertexWarning, Worker
from cachetrace.model.cache import CacheExport
from cachetrace.model.llb import Provenance
from cachetrace.model.oci import Descriptor
from cachetrace.model.outputs import LayerScan


class CommandKind(str, Enum):
    BUILDX_BUILD = "buildx-build"
    DOCKER_BUILD = "docker-build"
    BAKE = "bake"
    BUILDCTL = "buildctl"
    HISTORY = "history"  # ``record --ref``: a finished build taken from history


class StatusSource(str, Enum):
    LIVE = "live"  # the Status stream, watched while the build ran
    REPLAY = "replay"  # replayed from the history record after the fact
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Missing:
    """A part of a build that is not in the capture, and why."""

    part: str  # "provenance", "cache_export", "outputs", "status", "history_record", …
    reason: str


@dataclass(frozen=True, slots=True)
class Invocation:
    """The wrapped command. Both argv forms are redacted before writing."""

    kind: CommandKind
    argv: tuple[str, ...]  # as the user gave it
    run_argv: tuple[str, ...]  # as cachetrace ran it (with the flags it added)
    added_flags: tuple[str, ...]
    cwd: str
    started_at: float
    finished_at: float | None = None
    exit_code: int | None = None
    signal: str | None = None  # the signal that interrupted the child, if any


@dataclass(frozen=True, slots=True)
class Builder:
    """The builder the builds ran on, as resolved and as it answered."""

    name: str
    endpoint: str  # how it was reached (Endpoint.description)
    driver: str = ""
    buildkit: BuildkitInfo | None = None
    workers: tuple[Worker, ...] = ()
    engine_version: str | None = None  # Docker Engine version, for the docker driver
    client_version: str | None = None  # buildx / buildctl version that ran the build


@dataclass(frozen=True, slots=True)
class LogStream:
    """The output of one vertex on one stream, bounded; ``truncated`` counts what was cut."""

    vertex: str
    stream: int  # 1 stdout, 2 stderr
    text: str
    size: int  # bytes seen in total
    truncated: int = 0  # bytes left out after the bound


@dataclass(frozen=True, slots=True)
class LayerOutput:
    """A layer a step produced (from provenance ``layers``) and what is really in it."""

    descriptor: Descriptor
    step_outputs: tuple[str, ...]  # provenance refs "stepN:out" whose chain holds it
    index: int  # position in the chain of the step output
    scan: LayerScan | None = None
    missing: str | None = None  # why there is no scan


@dataclass(frozen=True, slots=True)
class ExportedOutput:
    """Files an exporter wrote to the client (``-o type=local``/``tar``), per platform."""

    exporter: str  # "local", "tar", "oci", "docker", "image"
    platform: str | None
    dest: str
    scan: LayerScan | None = None
    missing: str | None = None


@dataclass(frozen=True, slots=True)
class Build:
    ref: str
    complete: bool
    incomplete_reasons: tuple[str, ...] = ()
    target: str | None = None  # bake target
    record: HistoryRecord | None = None
    status_source: StatusSource = StatusSource.NONE
    vertices: tuple[Vertex, ...] = ()
    logs: tuple[LogStream, ...] = ()
    warnings: tuple[VertexWarning, ...] = ()
    # one provenance per result platform ("" for a single-platform build)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    cache: CacheExport | None = None
    layers: tuple[LayerOutput, ...] = ()
    exports: tuple[ExportedOutput, ...] = ()
    metadata: dict[str, JSONValue] = field(default_factory=dict)  # --metadata-file content
    # platform -> exec step id -> its CacheMap digest, computed from the op *before* redaction
    # (a redacted env value would make it impossible to recompute from the capture). It adds
    # nothing the cache export's record digests do not already reveal.
    exec_keys: dict[str, dict[str, str]] = field(default_factory=dict)
    missing: tuple[Missing, ...] = ()


@dataclass(frozen=True, slots=True)
class Capture:
    schema_version: int
    tool: str
    created_at: float
    invocation: Invocation
    builder: Builder | None
    builds: tuple[Build, ...]
    complete: bool
    incomplete_reasons: tuple[str, ...] = ()
