"""What BuildKit says about builds: status stream pieces, history records, workers.

Filled by ``cachetrace.buildkit.convert`` from the control API's protobuf messages; nothing
here knows about protobuf. Timestamps are float seconds since the epoch (UTC), ``None`` when
BuildKit did not set them. Byte fields (log messages, warning texts) are UTF-8 decoded with
``errors="replace"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cachetrace.model.oci import Descriptor, Platform

# Media types BuildKit uses for history blobs and attestations.
STATUS_LOG_MEDIA_TYPE = "application/vnd.buildkit.status.v0"
IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"


@dataclass(frozen=True, slots=True)
class ProgressGroup:
    id: str
    name: str = ""
    weak: bool = False


@dataclass(frozen=True, slots=True)
class Vertex:
    """One LLB vertex as the status stream shows it (a full snapshot; replace by digest)."""

    digest: str
    name: str
    inputs: tuple[str, ...] = ()
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""
    progress_group: ProgressGroup | None = None


@dataclass(frozen=True, slots=True)
class VertexStatus:
    """Progress of one task of a vertex (a pull, a transfer); merged by ``id``."""

    id: str
    vertex: str
    name: str = ""
    current: int = 0
    total: int = 0
    timestamp: float | None = None
    started: float | None = None
    completed: float | None = None


@dataclass(frozen=True, slots=True)
class VertexLog:
    """A piece of a vertex's output; ``stream`` 1 is stdout, 2 stderr."""

    vertex: str
    stream: int
    msg: str
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class SourceRange:
    """A range in a source file, 1-based lines as BuildKit gives them."""

    start_line: int
    start_character: int = 0
    end_line: int = 0
    end_character: int = 0


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A source a warning points into (usually the Dockerfile)."""

    filename: str
    language: str = ""
    data: str = ""


@dataclass(frozen=True, slots=True)
class VertexWarning:
    """A build check or frontend warning attached to a vertex."""

    vertex: str
    level: int
    short: str
    detail: tuple[str, ...] = ()
    url: str = ""
    source: SourceFile | None = None
    ranges: tuple[SourceRange, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One StatusResponse: the vertices, statuses, logs and warnings it carried."""

    vertexes: tuple[Vertex, ...] = ()
    statuses: tuple[VertexStatus, ...] = ()
    logs: tuple[VertexLog, ...] = ()
    warnings: tuple[VertexWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class Exporter:
    type: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuildError:
    """A failed build's error (google.rpc.Status): gRPC code and message."""

    message: str
    code: int = 0


@dataclass(frozen=True, slots=True)
class BuildResult:
    """One result of a build (per platform for multi-platform builds).

    ``results`` maps the output index (as a string) to its descriptor; ``attestations`` holds
    the provenance (``application/vnd.in-toto+json``) and any other attestation blobs.
    """

    attestations: tuple[Descriptor, ...] = ()
    results: dict[str, Descriptor] = field(default_factory=dict)
    result: Descriptor | None = None  # ResultDeprecated, still sent by older BuildKit


class BuildState(str, Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """A BuildKit build history record (every BuildHistoryRecord field)."""

    ref: str
    frontend: str = ""
    frontend_attrs: dict[str, str] = field(default_factory=dict)
    exporters: tuple[Exporter, ...] = ()
    error: BuildError | None = None
    created_at: float | None = None
    completed_at: float | None = None
    logs: Descriptor | None = None
    exporter_response: dict[str, str] = field(default_factory=dict)
    result: BuildResult | None = None
    results: dict[str, BuildResult] = field(default_factory=dict)  # platform -> result
    generation: int = 0
    trace: Descriptor | None = None
    pinned: bool = False
    num_cached_steps: int = 0
    num_total_steps: int = 0
    num_completed_steps: int = 0
    external_error: Descriptor | None = None
    num_warnings: int = 0

    @property
    def state(self) -> BuildState:
        if self.error is not None:
            return BuildState.FAILED
        if self.completed_at is None:
            return BuildState.RUNNING
        return BuildState.COMPLETED

    @property
    def duration(self) -> float | None:
        if self.created_at is None or self.completed_at is None:
            return None
        return max(0.0, self.completed_at - self.created_at)

    @property
    def name(self) -> str:
        """A name for the build: ``BUILDKIT_BUILD_NAME``, the image name, or the file (target)."""
        attrs = self.frontend_attrs
        if attrs.get("build-arg:BUILDKIT_BUILD_NAME"):
            return attrs["build-arg:BUILDKIT_BUILD_NAME"]
        images = [e.attrs.get("name", "") for e in self.exporters]
        images.append(self.exporter_response.get("image.name", ""))
        for image in images:
            if image:
                return image.split(",")[0]
        base = attrs.get("context") or attrs.get("filename") or ""
        if not base and self.frontend.startswith("dockerfile"):
            base = "Dockerfile"
        target = attrs.get("target", "")
        if base and target:
            return f"{base} ({target})"
        return base or target or self.frontend or self.ref

    def attestations(self) -> dict[str, tuple[Descriptor, ...]]:
        """Attestation descriptors per platform (``""`` for a single-platform result)."""
        found: dict[str, tuple[Descriptor, ...]] = {}
        if self.result is not None and self.result.attestations:
            found[""] = self.result.attestations
        for platform, result in sorted(self.results.items()):
            if result.attestations:
                found[platform] = result.attestations
        return found


class HistoryEventType(str, Enum):
    STARTED = "started"
    COMPLETE = "complete"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    type: HistoryEventType
    record: HistoryRecord


@dataclass(frozen=True, slots=True)
class BuildkitInfo:
    """The BuildKit daemon's version (``version`` is ``v0.0.0+unknown`` in distro builds)."""

    package: str
    version: str
    revision: str = ""
    dockerfile_version: str = ""


@dataclass(frozen=True, slots=True)
class GCPolicy:
    all: bool = False
    keep_duration: float = 0.0  # seconds
    filters: tuple[str, ...] = ()
    reserved_space: int = 0
    max_used_space: int = 0
    min_free_space: int = 0


@dataclass(frozen=True, slots=True)
class Worker:
    id: str
    labels: dict[str, str] = field(default_factory=dict)
    platforms: tuple[Platform, ...] = ()
    buildkit_version: BuildkitInfo | None = None
    gc_policies: tuple[GCPolicy, ...] = ()
    cdi_devices: tuple[str, ...] = ()

    @property
    def snapshotter(self) -> str | None:
        return self.labels.get("org.mobyproject.buildkit.worker.snapshotter")


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """One build cache record from DiskUsage."""

    id: str
    size: int
    mutable: bool = False
    in_use: bool = False
    shared: bool = False
    created_at: float | None = None
    last_used_at: float | None = None
    usage_count: int = 0
    description: str = ""
    record_type: str = ""
    parents: tuple[str, ...] = ()
