"""Recompute an exec step's cache key from its LLB op, as BuildKit's ``ExecOp.CacheMap`` does.

Read from moby/buildkit v0.25.2 (the version Docker Engine 28.5.2 vendors),
``solver/llbsolver/ops/exec.go`` (``CacheMap``, ``checkShouldClearCacheOpts``),
``solver/pb/ops.pb.go`` (field order and JSON tags of ``ExecOp`` and its messages) and
``solver/cachemanager.go`` (``rootKey``). The steps:

1. normalise a copy of the op: every mount's ``selector`` cleared; every extra host's ``IP``
   cleared (the host name stays); ``meta.proxy_env`` removed; a cache mount's ``ID`` and
   ``sharing`` cleared (leaving ``cacheOpt: {}``) unless it is the Dockerfile default (ID equal to
   the target, or ``<namespace>/<target>``, with shared sharing); a lone root mount (``/``,
   read-write bind, no options, no result ID) dropped, for compatibility with old keys;
2. wrap it as ``{Type: "buildkit.exec.v0", Exec, OS, Arch, Variant, OSVersion, OSFeatures}``
   (the last three omitted when empty) and encode with Go's ``encoding/json``
   (:mod:`cachetrace.graph.gojson`): struct field order, ``omitempty`` on every protobuf
   field, enums as integers, nil pointers omitted and empty messages kept as ``{}``;
3. the CacheMap digest is ``sha256`` of those bytes; the record digest of output ``N`` in the
   cache export is ``sha256("<CacheMap digest>@N")``.

The input is the op JSON exactly as the provenance gives it (``llbDefinition[i].op``): a
``pb.Op`` (``{"Op": {"exec": …}, "platform": …}``), or the bare ``ExecOp`` (``{"meta": …}``).
Since the provenance itself is Go ``encoding/json`` of the same structs, absent keys are zero
values, and the one encoding difference between BuildKit versions that matters here (before
v0.17, gogo protobuf wrote ``Mount.input``/``Mount.output`` even when 0) shows in the
provenance the same way: those two fields are kept exactly when the op has them. Fields
this schema does not know (a newer BuildKit) are kept after the known ones in the order
given and listed by :func:`unknown_exec_fields`: the digest is then not assured.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from cachetrace.errors import GraphError
from cachetrace.graph.gojson import dumps
from cachetrace.model.oci import Platform
from cachetrace.outputs.paths import clean as clean_path

__all__ = [
    "EXEC_CACHE_TYPE",
    "MOUNT_BIND",
    "MOUNT_CACHE",
    "MOUNT_SECRET",
    "MOUNT_SSH",
    "MOUNT_TMPFS",
    "ExecKey",
    "InputDep",
    "PlatformLike",
    "cache_opts_in_key",
    "choose_platform",
    "exec_cache_digest",
    "exec_cache_payload",
    "exec_input_deps",
    "exec_key",
    "exec_of",
    "normalized_exec",
    "platform_fields",
    "platform_of",
    "record_digest",
    "unknown_exec_fields",
]

EXEC_CACHE_TYPE = "buildkit.exec.v0"

# pb.MountType
MOUNT_BIND, MOUNT_SECRET, MOUNT_SSH, MOUNT_CACHE, MOUNT_TMPFS = 0, 1, 2, 3, 4

# Field kinds of the protobuf messages, by JSON name, in Go struct order (ops.pb.go v0.25.2).
Kind: TypeAlias = Literal["str", "int", "bool", "strs", "ints"] | tuple[str, str]
_SCHEMA: dict[str, tuple[tuple[str, Kind], ...]] = {
    "ExecOp": (
        ("meta", ("msg", "Meta")),
        ("mounts", ("msgs", "Mount")),
        ("network", "int"),
        ("security", "int"),
        ("secretenv", ("msgs", "SecretEnv")),
        ("cdiDevices", ("msgs", "CDIDevice")),
    ),
    "Meta": (
        ("args", "strs"),
        ("env", "strs"),
        ("cwd", "str"),
        ("user", "str"),
        ("proxy_env", ("msg", "ProxyEnv")),
        ("extraHosts", ("msgs", "HostIP")),
        ("hostname", "str"),
        ("ulimit", ("msgs", "Ulimit")),
        ("cgroupParent", "str"),
        ("removeMountStubsRecursive", "bool"),
        ("validExitCodes", "ints"),
    ),
    "ProxyEnv": (
        ("http_proxy", "str"),
        ("https_proxy", "str"),
        ("ftp_proxy", "str"),
        ("no_proxy", "str"),
        ("all_proxy", "str"),
    ),
    "HostIP": (("Host", "str"), ("IP", "str")),
    "Ulimit": (("Name", "str"), ("Soft", "int"), ("Hard", "int")),
    "SecretEnv": (("ID", "str"), ("name", "str"), ("optional", "bool")),
    "CDIDevice": (("name", "str"), ("optional", "bool")),
    "Mount": (
        ("input", "int"),
        ("selector", "str"),
        ("dest", "str"),
        ("output", "int"),
        ("readonly", "bool"),
        ("mountType", "int"),
        ("TmpfsOpt", ("msg", "TmpfsOpt")),
        ("cacheOpt", ("msg", "CacheOpt")),
        ("secretOpt", ("msg", "SecretOpt")),
        ("SSHOpt", ("msg", "SSHOpt")),
        ("resultID", "str"),
        ("contentCache", "int"),
    ),
    "TmpfsOpt": (("size", "int"),),
    "CacheOpt": (("ID", "str"), ("sharing", "int")),
    "SecretOpt": (
        ("ID", "str"),
        ("uid", "int"),
        ("gid", "int"),
        ("mode", "int"),
        ("optional", "bool"),
    ),
    "SSHOpt": (
        ("ID", "str"),
        ("uid", "int"),
        ("gid", "int"),
        ("mode", "int"),
        ("optional", "bool"),
    ),
}

# BuildKit before v0.17 (gogo protobuf) tagged Mount.input and Mount.output ``json:"input"``,
# without omitempty: its provenance and its keys both carry ``"input":0``. Since v0.17 zero is
# omitted from both. Keeping these two fields exactly when the provenance has them covers both.
_WRITTEN_WHEN_ZERO = {("Mount", "input"), ("Mount", "output")}

_SCALAR_TYPES: dict[str, tuple[type, str]] = {
    "str": (str, "a string"),
    "int": (int, "an integer"),
    "bool": (bool, "a boolean"),
}


def _bad(path: str, what: str) -> GraphError:
    return GraphError(f"exec op: {path} {what}")


def _message(raw: Any, name: str, path: str, unknown: list[str]) -> dict[str, Any]:
    """A message as Go would hold it: known fields in struct order, zero values omitted."""
    if not isinstance(raw, Mapping):
        raise _bad(path, f"is not an object ({name})")
    out: dict[str, Any] = {}
    fields = _SCHEMA[name]
    known = {field for field, _ in fields}
    for field, kind in fields:
        if field not in raw or raw[field] is None:
            continue
        value = _field(raw[field], kind, f"{path}.{field}", unknown)
        if value is not None:
            out[field] = value
        elif (name, field) in _WRITTEN_WHEN_ZERO:
            out[field] = raw[field]
    for field, value in raw.items():
        if field not in known:
            unknown.append(f"{path}.{field}")
            out[field] = value
    return out


def _field(value: Any, kind: Kind, path: str, unknown: list[str]) -> Any:
    if isinstance(kind, tuple):
        shape, name = kind
        if shape == "msg":
            # A non-nil pointer to a message is written even when empty: {}.
            return _message(value, name, path, unknown)
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise _bad(path, "is not a list")
        items = [_message(v, name, f"{path}[{i}]", unknown) for i, v in enumerate(value)]
        return items or None
    if kind in ("strs", "ints"):
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise _bad(path, "is not a list")
        item_type, item_name = _SCALAR_TYPES["str" if kind == "strs" else "int"]
        for i, item in enumerate(value):
            if not isinstance(item, item_type) or isinstance(item, bool):
                raise _bad(f"{path}[{i}]", f"is not {item_name}")
        return list(value) or None
    scalar_type, scalar_name = _SCALAR_TYPES[kind]
    if not isinstance(value, scalar_type) or (kind == "int" and isinstance(value, bool)):
        raise _bad(path, f"is not {scalar_name}")
    return value or None  # omitempty: "", 0 and false are not written


def exec_of(op: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ExecOp inside a provenance op (``{"Op": {"exec": …}}``), or ``op`` if it is one."""
    if not isinstance(op, Mapping):
        raise GraphError("exec op: not an object")
    inner = op.get("Op")
    if isinstance(inner, Mapping):
        exec_op = inner.get("exec")
        if not isinstance(exec_op, Mapping):
            kinds = ", ".join(sorted(inner)) or "none"
            raise GraphError(f"exec op: the step is not an exec (op kind: {kinds})")
        return exec_op
    if isinstance(op.get("exec"), Mapping):
        exec_op = op["exec"]
        assert isinstance(exec_op, Mapping)
        return exec_op
    if "meta" in op or "mounts" in op:
        return op
    raise GraphError("exec op: neither a pb.Op with an exec nor an ExecOp")


def platform_of(op: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``platform`` of a provenance op (``pb.Platform`` JSON), if it has one."""
    platform = op.get("platform") if isinstance(op, Mapping) else None
    return platform if isinstance(platform, Mapping) else None


def cache_opts_in_key(mount: Mapping[str, Any]) -> bool:
    """True if a cache mount's ID and sharing stay in the key (a Dockerfile default mount)."""
    opt = mount.get("cacheOpt")
    if not isinstance(opt, Mapping):
        return False
    cache_id = opt.get("ID", "")
    dest = mount.get("dest", "")
    if opt.get("sharing", 0) != 0:
        return False
    if cache_id == dest:
        return True
    _, sep, trimmed = cache_id.partition("/")
    return bool(sep) and trimmed == dest


def _is_plain_root(mount: Mapping[str, Any]) -> bool:
    return (
        mount.get("dest") == "/"
        and not mount.get("selector")
        and not mount.get("readonly")
        and mount.get("mountType", MOUNT_BIND) == MOUNT_BIND
        and mount.get("cacheOpt") is None
        and mount.get("SSHOpt") is None
        and mount.get("secretOpt") is None
        and not mount.get("resultID")
    )


def _normalize(op: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    unknown: list[str] = []
    exec_op = _message(exec_of(op), "ExecOp", "exec", unknown)
    meta = exec_op.get("meta")
    if meta is not None:
        meta.pop("proxy_env", None)
        for host in meta.get("extraHosts", ()):
            host.pop("IP", None)
    mounts = exec_op.get("mounts")
    if mounts is not None:
        for mount in mounts:
            mount.pop("selector", None)
            if mount.get("cacheOpt") is not None and not cache_opts_in_key(mount):
                mount["cacheOpt"].pop("ID", None)
                mount["cacheOpt"].pop("sharing", None)
        if len(mounts) == 1 and _is_plain_root(mounts[0]):
            del exec_op["mounts"]
    return exec_op, unknown


def normalized_exec(op: Mapping[str, Any]) -> dict[str, Any]:
    """The ExecOp that BuildKit hashes: normalised, in Go field order, zero values omitted."""
    return _normalize(op)[0]


def unknown_exec_fields(op: Mapping[str, Any]) -> tuple[str, ...]:
    """Paths of fields in ``op`` that the v0.25 ExecOp schema does not know (empty if none)."""
    return tuple(_normalize(op)[1])


PlatformLike: TypeAlias = Mapping[str, Any] | Platform


def platform_fields(platform: PlatformLike) -> dict[str, Any]:
    """The platform part of the hashed struct: ``OS``, ``Arch`` and, when set, ``Variant``,
    ``OSVersion``, ``OSFeatures``. Takes ``pb.Platform`` JSON (``{"OS", "Architecture"…}``),
    the OCI spelling (``os``, ``architecture``…) or a model :class:`Platform`."""
    if isinstance(platform, Platform):
        platform = {
            "OS": platform.os,
            "Architecture": platform.architecture,
            "Variant": platform.variant,
            "OSVersion": platform.os_version,
            "OSFeatures": list(platform.os_features),
        }
    os_name = platform.get("OS", platform.get("os"))
    arch = platform.get("Architecture", platform.get("architecture"))
    if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
        raise GraphError("exec op: platform has no OS/Architecture")
    out: dict[str, Any] = {"OS": os_name, "Arch": arch}
    for go_name, oci_name in (("Variant", "variant"), ("OSVersion", "os.version")):
        value = platform.get(
            go_name, platform.get(oci_name, platform.get(oci_name.replace(".", "_")))
        )
        if value:
            out[go_name] = str(value)
    features = platform.get("OSFeatures", platform.get("os.features", platform.get("os_features")))
    if features:
        out["OSFeatures"] = [str(f) for f in features]
    return out


def choose_platform(
    op: Mapping[str, Any],
    platform: PlatformLike | None,
    default_platform: PlatformLike | None,
) -> dict[str, Any]:
    """The hashed platform fields: ``platform``, else the op's own, else ``default_platform``."""
    chosen = platform if platform is not None else platform_of(op)
    if chosen is None:
        chosen = default_platform
    if chosen is None:
        raise GraphError("exec op: no platform (pass the worker's default platform)")
    return platform_fields(chosen)


@dataclass(frozen=True, slots=True)
class ExecKey:
    """One exec op's key, computed once: the normalised op, hashed platform, bytes, digest."""

    exec: dict[str, Any]  # normalized_exec(op)
    platform: dict[str, Any]  # OS, Arch[, Variant, OSVersion, OSFeatures]
    unknown_fields: tuple[str, ...]  # see unknown_exec_fields
    payload: bytes  # what BuildKit hashes
    digest: str  # the CacheMap digest, sha256 of payload


def exec_key(
    op: Mapping[str, Any],
    platform: PlatformLike | None = None,
    *,
    default_platform: PlatformLike | None = None,
) -> ExecKey:
    """Normalise, wrap, encode and hash an exec op as ``ExecOp.CacheMap`` does.

    ``platform`` defaults to the op's own ``platform``; an op without one is hashed with the
    worker's default platform, which only the caller knows (``default_platform``).
    """
    exec_op, unknown = _normalize(op)
    hashed_platform = choose_platform(op, platform, default_platform)
    wrapper: dict[str, Any] = {"Type": EXEC_CACHE_TYPE, "Exec": exec_op, **hashed_platform}
    # Known fields are checked to be dicts, lists, str, int and bool: the encoder's fast path.
    payload = dumps(wrapper, plain=not unknown)
    return ExecKey(
        exec=exec_op,
        platform=hashed_platform,
        unknown_fields=tuple(unknown),
        payload=payload,
        digest="sha256:" + hashlib.sha256(payload).hexdigest(),
    )


def exec_cache_payload(
    op: Mapping[str, Any],
    platform: PlatformLike | None = None,
    *,
    default_platform: PlatformLike | None = None,
) -> bytes:
    """The exact bytes BuildKit hashes for the exec's CacheMap digest (see :func:`exec_key`)."""
    return exec_key(op, platform, default_platform=default_platform).payload


def exec_cache_digest(
    op: Mapping[str, Any],
    platform: PlatformLike | None = None,
    *,
    default_platform: PlatformLike | None = None,
) -> str:
    """``sha256:…`` CacheMap digest of an exec op (see :func:`exec_key`)."""
    return exec_key(op, platform, default_platform=default_platform).digest


@dataclass(frozen=True, slots=True)
class InputDep:
    """What BuildKit's CacheMap says about one op input (``getMountDeps``).

    ``selector`` is the digest an exported record's link to this input carries (``""`` when no
    mount selects a path of it); ``content_based`` inputs get, besides, a link with an empty
    selector to a content-checksum key of the selected paths.
    """

    paths: tuple[str, ...] = ()  # the selected paths, "/" for a whole input, in mount order
    selector: str = ""
    content_based: bool = False


_CONTENT_CACHE_ON, _CONTENT_CACHE_OFF = 1, 2


def _go_path_join_root(selector: str) -> str:
    """Go's ``path.Join("/", selector)``: cleaned, absolute, no trailing slash."""
    return clean_path(selector)


def exec_input_deps(
    op: Mapping[str, Any],
    num_inputs: int | None = None,
    *,
    skip_session_mounts: bool = True,
) -> tuple[InputDep, ...]:
    """Per-input selectors and content-based flags, as ``ExecOp.CacheMap`` computes them.

    ``num_inputs`` is the number of op inputs (the provenance step's ``inputs``); by default
    one more than the highest input a mount uses. Mounts without an input do not count, nor
    (BuildKit v0.15+) secret, ssh and tmpfs mounts: pass ``skip_session_mounts=False`` for
    older BuildKit, whose Dockerfile frontend gave them input 0 and which counted them
    (seen on v0.13.2: a secret mount makes the root input's selector ``sha256("/\\0/")``).
    """
    mounts = exec_of(op).get("mounts") or []
    used = [m.get("input", 0) for m in mounts if m.get("input", 0) >= 0]
    count = num_inputs if num_inputs is not None else (max(used) + 1 if used else 0)
    paths: list[list[str]] = [[] for _ in range(count)]
    content: list[bool] = [False] * count
    for mount in mounts:
        session = mount.get("mountType", MOUNT_BIND) in (MOUNT_SECRET, MOUNT_SSH, MOUNT_TMPFS)
        if session and skip_session_mounts:
            continue
        index = mount.get("input", 0)
        if index == -1:
            continue
        if not 0 <= index < count:
            raise GraphError(f"exec op: a mount uses input {index} of {count}")
        selected = _go_path_join_root(str(mount.get("selector", "")))
        paths[index].append(selected)
        based = mount.get("output", 0) == -1 or bool(mount.get("readonly")) or selected == "/"
        content_cache = mount.get("contentCache", 0)
        if content_cache == _CONTENT_CACHE_OFF or (content_cache == 0 and mount.get("dest") == "/"):
            based = False
        content[index] = based  # the last mount of an input decides, as in BuildKit
    return tuple(
        InputDep(
            paths=tuple(p),
            selector=("sha256:" + hashlib.sha256("\0".join(p).encode()).hexdigest() if p else ""),
            content_based=c,
        )
        for p, c in zip(paths, content, strict=True)
    )


def record_digest(cachemap_digest: str, output: int) -> str:
    """Digest of the cache export record for output ``output``: ``sha256("<digest>@<output>")``.

    ``output`` -1 gives the shape of content-checksum keys. BuildKit's ``random:`` digests
    (never exported) are refused.
    """
    if not cachemap_digest.startswith("sha256:"):
        raise GraphError(f"not a sha256 cache digest: {cachemap_digest!r}")
    return "sha256:" + hashlib.sha256(f"{cachemap_digest}@{output}".encode()).hexdigest()
