"""LLB ops as a build's provenance describes them: exec (meta, mounts), source, file, build,
merge and diff ops, and the enums of BuildKit's ``solver/pb/ops.proto``.

Part of the LLB model (``cachetrace.model.llb`` re-exports every name here); see that module
for how steps keep their op typed and raw, and which values are secret-capable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cachetrace.model import JSONValue
from cachetrace.model.oci import Platform

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
