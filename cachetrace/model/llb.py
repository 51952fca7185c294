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
from enum import Enum

from cachetrace.model import JSONValue
from cachetrace.model.oci import Descriptor, Platform

# Key in ``dataclasses.field(metadata=...)`` marking a value that may hold a credential.
SECRET_CAPABLE = "cachetrace.secret_capable"

# The Dockerfile frontend's predefined proxy args: passed with --build-arg and no ARG line,
# they go to ``ExecMeta.proxy_env`` and stay out of the cache key. Compared lowercased.
PROXY_ARG_NAMES = frozenset({"http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"})


def is_proxy_arg(name: str) -> bool:
    """True for ``http_proxy``, ``HTTPS_PROXY``… (any case)."""
    return name.lower() in PROXY_ARG_NAMES


def _secret(default: str = "") -> str:
    return field(default=default, metadata={SECRET_CAPABLE: True})


class SlsaVersion(str, Enum):
    V0_2 = "v0.2"  # https://slsa.dev/provenance/v0.2 (BuildKit <= 0.27 records this)
    V1 = "v1"  # https://slsa.dev/provenance/v1 (BuildKit >= 0.28)


class ProvenanceMode(str, Enum):
    MAX = "max"  # with buildConfig (the LLB) and the Dockerfile sources
    MIN = "min"  # without: materials and request only


class OpKind(str, Enum):
    EXEC = "exec"
    SOURCE = "source"
    FILE = "file"
    BUILD = "build"
    MERGE = "merge"
    DIFF = "diff"
    PASSTHROUGH = "passthrough"
    NONE = "none"  # no op: the build's final result vertex
    UNKNOWN = "unknown"  # an op type newer than this decoder; see ``Op.raw``


class MountType(str, Enum):
    BIND = "bind"  # 0
    SECRET = "secret"  # 1
    SSH = "ssh"  # 2
    CACHE = "cache"  # 3
    TMPFS = "tmpfs"  # 4


class CacheSharing(str, Enum):
    SHARED = "shared"  # 0
    PRIVATE = "private"  # 1
    LOCKED = "locked"  # 2


class NetworkMode(str, Enum):
    SANDBOX = "sandbox"  # 0 (UNSET): the default network
    HOST = "host"  # 1
    NONE = "none"  # 2


class SecurityMode(str, Enum):
    SANDBOX = "sandbox"  # 0
    INSECURE = "insecure"  # 1 (privileged)


class ContentCache(str, Enum):
    DEFAULT = "default"  # 0
    ON = "on"  # 1
    OFF = "off"  # 2


class FileActionKind(str, Enum):
    COPY = "copy"
    MKFILE = "mkfile"
    MKDIR = "mkdir"
    RM = "rm"
    SYMLINK = "symlink"
    UNKNOWN = "unknown"


# --- exec ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostIP:
    """An ``--add-host`` entry (``Meta.extraHosts``)."""

    host: str
    ip: str


@dataclass(frozen=True, slots=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class ProxyEnv:
    """``Meta.proxy_env``: never in the cache key; the values may hold credentials."""

    http_proxy: str = _secret()
    https_proxy: str = _secret()
    ftp_proxy: str = _secret()
    no_proxy: str = _secret()
    all_proxy: str = _secret()

    def as_dict(self) -> dict[str, str]:
        """The proxy variables that are set, by their lowercase name."""
        values = {
            "http_proxy": self.http_proxy,
            "https_proxy": self.https_proxy,
            "ftp_proxy": self.ftp_proxy,
            "no_proxy": self.no_proxy,
            "all_proxy": self.all_proxy,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True, slots=True)
class ExecMeta:
    """``pb.Meta``: the process an exec op runs."""

    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # "NAME=value", in order
    cwd: str = ""
    user: str = ""
    hostname: str = ""
    extra_hosts: tuple[HostIP, ...] = ()
    proxy_env: ProxyEnv | None = field(default=None, metadata={SECRET_CAPABLE: True})
    ulimits: tuple[Ulimit, ...] = ()
    cgroup_parent: str = ""
    remove_mount_stubs_recursive: bool = False
    valid_exit_codes: tuple[int, ...] = ()

    def env_dict(self) -> dict[str, str]:
        """``env`` as a mapping; a later entry wins over an earlier one of the same name."""
        out: dict[str, str] = {}
        for entry in self.env:
            name, _, value = entry.partition("=")
            out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class CacheOpt:
    """``--mount=type=cache`` options. BuildKit's ``id`` for an unnamed mount is its target."""

    id: str
    sharing: CacheSharing = CacheSharing.SHARED


@dataclass(frozen=True, slots=True)
class SecretOpt:
    """``--mount=type=secret`` options: the id only, never the value."""

    id: str
    uid: int = 0
    gid: int = 0
    mode: int = 0
    optional: bool = False


@dataclass(frozen=True, slots=True)
class SSHOpt:
    """``--mount=type=ssh`` options. An empty ``id`` means the ``default`` agent."""

    id: str = ""
    uid: int = 0
    gid: int = 0
    mode: int = 0
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Mount:
    """``pb.Mount``. ``input``/``output`` are op input/output indexes; -1 means none."""

    dest: str
    type: MountType = MountType.BIND
    input: int = 0
    selector: str = ""
    output: int = 0
    readonly: bool = False
    cache: CacheOpt | None = None
    secret: SecretOpt | None = None
    ssh: SSHOpt | None = None
    tmpfs_size: int | None = None
    result_id: str = ""
    content_cache: ContentCache = ContentCache.DEFAULT


@dataclass(frozen=True, slots=True)
class SecretEnv:
    """``RUN --mount=type=secret,env=NAME``: a secret exposed as an environment variable."""

    id: str
    name: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class CDIDevice:
    name: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class ExecOp:
    meta: ExecMeta
    mounts: tuple[Mount, ...] = ()
    network: NetworkMode = NetworkMode.SANDBOX
    security: SecurityMode = SecurityMode.SANDBOX
    secret_env: tuple[SecretEnv, ...] = ()
    cdi_devices: tuple[CDIDevice, ...] = ()

    def mounts_of(self, kind: MountType) -> tuple[Mount, ...]:
        return tuple(m for m in self.mounts if m.type is kind)


# --- other ops -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceOp:
    """``pb.SourceOp``: ``docker-image://…``, ``local://context``, ``git://…``, ``https://…``.

    BuildKit drops the ``local.session`` and ``local.unique`` attrs before writing provenance.
    """

    identifier: str
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        """``docker-image``, ``local``, ``git``, ``https``, ``oci-layout``…"""
        scheme, sep, _ = self.identifier.partition("://")
        return scheme if sep else ""


@dataclass(frozen=True, slots=True)
class FileAction:
    """One ``pb.FileAction``, summarised; ``Op.raw`` has the rest (owner, timestamps…).

    ``src``: copy source or symlink old path. ``dest``: copy destination, or the path that
    mkfile/mkdir/rm/symlink acts on. ``input``/``secondary_input`` index the op's inputs
    (or, at or above their count, earlier actions' outputs); -1 means none. ``output`` is
    the op output this action's result becomes, -1 for an intermediate action.
    """

    kind: FileActionKind
    input: int = 0
    secondary_input: int = 0
    output: int = 0
    src: str = ""
    dest: str = ""
    mode: int | None = None  # None: not set (-1 in the op)
    include_patterns: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    allow_wildcard: bool = False
    allow_not_found: bool = False  # rm only


@dataclass(frozen=True, slots=True)
class FileOp:
    actions: tuple[FileAction, ...] = ()


@dataclass(frozen=True, slots=True)
class BuildOp:
    """``pb.BuildOp`` (a nested build). Its definition stays in ``Op.raw``."""

    builder: int = 0
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MergeOp:
    inputs: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DiffOp:
    lower: int | None = None  # an input index; None for scratch
    upper: int | None = None


@dataclass(frozen=True, slots=True)
class Op:
    """One LLB op: its kind, the typed body of that kind (the others are None), and ``raw``."""

    kind: OpKind
    raw: JSONValue  # the provenance's "op" object, exactly as given
    exec: ExecOp | None = None
    source: SourceOp | None = None
    file: FileOp | None = None
    build: BuildOp | None = None
    merge: MergeOp | None = None
    diff: DiffOp | None = None
    platform: Platform | None = None  # None: the op does not say (file ops, local sources)
    constraints: tuple[str, ...] = ()  # worker filters


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
