"""LLB steps and ops as a build's SLSA provenance (mode=max) describes them.

Filled by ``cachetrace.buildkit.provenance`` from SLSA v0.2 or v1 predicates; read by the
cache-key recomputation, the graph and the analysis rules. Every step keeps its op twice:
typed (``Op.exec``, ``Op.source``, ``Op.file``…) for reading, and ``Op.raw`` exactly as the
provenance gives it (BuildKit's ``pb.Op`` through Go ``encoding/json``: proto field names as
keys, enums as numbers, zero values omitted, op inputs moved to ``Step.inputs``) for hashing.

Step ids are ``"stepN"``: N is the position in ``Provenance.steps`` (inputs come before their
users; the last step is the build's no-op result vertex). Step outputs are named
``"stepN:OUT"`` (``"step3:0"``) in ``Provenance.layers``.

Secret-capable values: proxy URLs may carry credentials (``http://user:pass@proxy``). They are
kept here (redaction is ``cachetrace.capture_io``'s job) and marked: every dataclass field
whose ``metadata`` has ``SECRET_CAPABLE`` set, ``Request.build_args`` entries whose name
``is_proxy_arg``, and the ``"proxy_env"`` object inside ``Op.raw["Op"]["exec"]["meta"]``.
Secret mount contents never appear in provenance; only secret and ssh ids do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cachetrace.model import JSONValue
from cachetrace.model.oci import Descriptor, Platform
from cachetrace.model.ops import (
    PROXY_ARG_NAMES,
    SECRET_CAPABLE,
    BuildOp,
    CacheOpt,
    CacheSharing,
    CDIDevice,
    ContentCache,
    DiffOp,
    ExecMeta,
    ExecOp,
    FileAction,
    FileActionKind,
    FileOp,
    HostIP,
    MergeOp,
    Mount,
    MountType,
    NetworkMode,
    Op,
    OpKind,
    ProvenanceMode,
    ProxyEnv,
    SecretEnv,
    SecretOpt,
    SecurityMode,
    SlsaVersion,
    SourceOp,
    SSHOpt,
    Ulimit,
    is_proxy_arg,
)

__all__ = [
    "PROXY_ARG_NAMES",
    "SECRET_CAPABLE",
    "BuildOp",
    "CDIDevice",
    "CacheOpt",
    "CacheSharing",
    "ConfigSource",
    "ContentCache",
    "DiffOp",
    "ExecMeta",
    "ExecOp",
    "FileAction",
    "FileActionKind",
    "FileOp",
    "HostIP",
    "Location",
    "Material",
    "MergeOp",
    "Mount",
    "MountType",
    "NetworkMode",
    "Op",
    "OpKind",
    "Position",
    "Provenance",
    "ProvenanceMode",
    "ProxyEnv",
    "Range",
    "Request",
    "RunMetadata",
    "SSHOpt",
    "SecretEnv",
    "SecretOpt",
    "SecurityMode",
    "SessionRef",
    "SlsaVersion",
    "SourceFile",
    "SourceOp",
    "Step",
    "StepInput",
    "Ulimit",
    "is_proxy_arg",
]


# --- steps and their Dockerfile locations ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    character: int = 0


@dataclass(frozen=True, slots=True)
class Range:
    start: Position
    end: Position


@dataclass(frozen=True, slots=True)
class Location:
    """Where in ``Provenance.sources[source_index]`` a step comes from."""

    source_index: int
    ranges: tuple[Range, ...] = ()


@dataclass(frozen=True, slots=True)
class StepInput:
    """An op input: output ``output`` of step ``step``."""

    step: str
    output: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    id: str  # "stepN"
    op: Op
    digest: str | None = None  # the LLB vertex digest (status Vertex.digest); None if unmapped
    inputs: tuple[StepInput, ...] = ()
    locations: tuple[Location, ...] = ()
    resource_usage: JSONValue = None  # BuildKit's resource samples, when it recorded them

    @property
    def index(self) -> int:
        return int(self.id.removeprefix("step"))

    def dockerfile_lines(self, source_index: int = 0) -> tuple[int, ...]:
        """The 1-based lines of source ``source_index`` this step comes from, ascending."""
        lines: set[int] = set()
        for loc in self.locations:
            if loc.source_index != source_index:
                continue
            for r in loc.ranges:
                lines.update(range(r.start.line, max(r.start.line, r.end.line) + 1))
        return tuple(sorted(lines))


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A build definition file (the Dockerfile), and how BuildKit loaded it."""

    filename: str
    language: str = ""
    text: str = ""  # decoded from base64, UTF-8 with errors replaced
    steps: tuple[Step, ...] = ()  # the small LLB that read the file (local://dockerfile…)
    digest_mapping: dict[str, str] = field(default_factory=dict)

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) without its newline; "" when out of range."""
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


# --- the request and run metadata ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRef:
    """A secret or ssh id the client offered (``--secret id=…``, ``--ssh default``)."""

    id: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Material:
    """A resolved dependency (base image, git commit, http file) or a statement subject."""

    uri: str
    digests: dict[str, str] = field(default_factory=dict)  # algorithm -> hex


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where the build definition came from: context URI, its digest, the Dockerfile path."""

    uri: str = ""
    digests: dict[str, str] = field(default_factory=dict)
    entry_point: str = ""  # v0.2 ``entryPoint`` / v1 ``path``: the Dockerfile name


@dataclass(frozen=True, slots=True)
class Request:
    """The solve request: frontend, its attributes, what the client session offered."""

    frontend: str = ""
    build_args: dict[str, str] = field(default_factory=dict)  # "build-arg:NAME" -> NAME
    frontend_attrs: dict[str, str] = field(default_factory=dict)  # every other frontend arg
    locals: tuple[str, ...] = ()
    secrets: tuple[SessionRef, ...] = ()
    ssh: tuple[SessionRef, ...] = ()
    config_source: ConfigSource = field(default_factory=ConfigSource)
    builder_platform: str = ""  # the platform BuildKit ran on ("linux/amd64")
    dockerfile_version: str = ""
    environment: dict[str, JSONValue] = field(default_factory=dict)  # other custom env keys
    compatibility_version: int = 0
    inputs: JSONValue = None  # named inputs' own requests (frontend inputs), as given
    root: JSONValue = None

    def args(self) -> dict[str, str]:
        """The frontend args as BuildKit recorded them (``build-arg:`` prefixes restored)."""
        out = dict(self.frontend_attrs)
        out.update({f"build-arg:{k}": v for k, v in self.build_args.items()})
        return out


@dataclass(frozen=True, slots=True)
class RunMetadata:
    """When and how completely the build ran (SLSA invocation/reproducibility metadata)."""

    invocation_id: str = ""
    started_on: float | None = None  # seconds since the epoch, UTC
    finished_on: float | None = None
    complete_request: bool = False  # v0.2 completeness.parameters / v1 request
    complete_environment: bool | None = None  # v0.2 only
    complete_materials: bool = False  # v0.2 materials / v1 resolvedDependencies
    reproducible: bool = False
    hermetic: bool = False


# --- the whole provenance --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provenance:
    slsa_version: SlsaVersion
    predicate_type: str
    build_type: str
    mode: ProvenanceMode
    builder_id: str = ""
    builder_version: dict[str, str] = field(default_factory=dict)  # v1 only
    request: Request = field(default_factory=Request)
    steps: tuple[Step, ...] = ()
    digest_mapping: dict[str, str] = field(default_factory=dict)  # vertex digest -> step id
    sources: tuple[SourceFile, ...] = ()
    materials: tuple[Material, ...] = ()
    layers: dict[str, tuple[tuple[Descriptor, ...], ...]] = field(default_factory=dict)
    vcs: dict[str, str] = field(default_factory=dict)  # "source", "revision"…
    metadata: RunMetadata = field(default_factory=RunMetadata)
    network: JSONValue = None  # buildkit metadata "network" (proxy capture), as given
    sys_usage: JSONValue = None  # buildkit metadata "sysUsage" samples, as given
    subjects: tuple[Material, ...] = ()  # the in-toto statement's subjects, when given one
    result_platform: Platform | None = None  # the result this provenance is for, if known

    def step(self, step_id: str) -> Step:
        """The step with id ``step_id``; KeyError when there is none."""
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def step_by_digest(self, digest: str) -> Step | None:
        """The step whose LLB vertex digest is ``digest`` (a status Vertex.digest)."""
        step_id = self.digest_mapping.get(digest)
        if step_id is None:
            return None
        for s in self.steps:
            if s.id == step_id:
                return s
        return None

    def steps_of(self, kind: OpKind) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.op.kind is kind)

    def layers_of(self, step_id: str, output: int = 0) -> tuple[tuple[Descriptor, ...], ...]:
        """The layer chains of one step output (usually one chain, base layer first)."""
        return self.layers.get(f"{step_id}:{output}", ())
