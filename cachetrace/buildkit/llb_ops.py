"""LLB ops as the provenance gives them (``pb.Op`` in Go's JSON) -> the typed model.

The enum tables follow BuildKit's ``solver/pb/ops.proto`` numbering; the op's raw JSON is kept
beside the typed view (``Op.raw``) for the cache-key recomputation.
"""

from __future__ import annotations

from typing import Any

from cachetrace.buildkit.provenance_json import Obj
from cachetrace.errors import ProtocolError
from cachetrace.model.llb import (
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
    ProxyEnv,
    SecretEnv,
    SecretOpt,
    SecurityMode,
    SourceOp,
    SSHOpt,
    Ulimit,
)
from cachetrace.model.oci import Platform

__all__ = ["decode_op"]

_MOUNT_TYPES = {
    0: MountType.BIND,
    1: MountType.SECRET,
    2: MountType.SSH,
    3: MountType.CACHE,
    4: MountType.TMPFS,
}
_SHARING = {0: CacheSharing.SHARED, 1: CacheSharing.PRIVATE, 2: CacheSharing.LOCKED}
_NETWORK = {0: NetworkMode.SANDBOX, 1: NetworkMode.HOST, 2: NetworkMode.NONE}
_SECURITY = {0: SecurityMode.SANDBOX, 1: SecurityMode.INSECURE}
_CONTENT_CACHE = {0: ContentCache.DEFAULT, 1: ContentCache.ON, 2: ContentCache.OFF}
_OP_KINDS = {k.value: k for k in OpKind if k not in (OpKind.NONE, OpKind.UNKNOWN)}


def decode_op(o: Obj) -> Op:
    body = o.obj("Op")
    present = [k for k in body.d if body.d[k] is not None]
    platform = o.opt_obj("platform")
    fields: dict[str, Any] = {
        "raw": o.d,
        "platform": _platform(platform) if platform is not None else None,
        "constraints": o.obj("constraints").texts("filter"),
    }
    if not present:
        return Op(kind=OpKind.NONE, **fields)
    if len(present) > 1:
        raise ProtocolError(f"provenance {body.path}: more than one op: {', '.join(present)}")
    kind = _OP_KINDS.get(present[0], OpKind.UNKNOWN)
    if kind is OpKind.UNKNOWN:  # newer than this decoder: kept in ``raw`` only
        return Op(kind=kind, **fields)
    inner = body.obj(present[0])
    if kind is OpKind.EXEC:
        fields["exec"] = _exec(inner)
    elif kind is OpKind.SOURCE:
        fields["source"] = SourceOp(inner.text("identifier"), inner.text_map("attrs"))
    elif kind is OpKind.FILE:
        fields["file"] = FileOp(tuple(_file_action(a) for a in inner.objs("actions")))
    elif kind is OpKind.BUILD:
        fields["build"] = BuildOp(inner.num("builder"), inner.text_map("attrs"))
    elif kind is OpKind.MERGE:
        fields["merge"] = MergeOp(tuple(i.num("input") for i in inner.objs("inputs")))
    elif kind is OpKind.DIFF:
        fields["diff"] = DiffOp(_diff_input(inner, "lower"), _diff_input(inner, "upper"))
    return Op(kind=kind, **fields)


def _platform(o: Obj) -> Platform:
    return Platform(
        os=o.text("OS"),
        architecture=o.text("Architecture"),
        variant=o.text("Variant"),
        os_version=o.text("OSVersion"),
        os_features=o.texts("OSFeatures"),
    )


def _exec(o: Obj) -> ExecOp:
    return ExecOp(
        meta=_meta(o.obj("meta")),
        mounts=tuple(_mount(m) for m in o.objs("mounts")),
        network=o.enum("network", _NETWORK),
        security=o.enum("security", _SECURITY),
        secret_env=tuple(
            SecretEnv(s.text("ID"), s.text("name"), s.flag("optional")) for s in o.objs("secretenv")
        ),
        cdi_devices=tuple(
            CDIDevice(d.text("name"), d.flag("optional")) for d in o.objs("cdiDevices")
        ),
    )


def _meta(o: Obj) -> ExecMeta:
    proxy = o.opt_obj("proxy_env")
    return ExecMeta(
        args=o.texts("args"),
        env=o.texts("env"),
        cwd=o.text("cwd"),
        user=o.text("user"),
        hostname=o.text("hostname"),
        extra_hosts=tuple(HostIP(h.text("Host"), h.text("IP")) for h in o.objs("extraHosts")),
        proxy_env=None
        if proxy is None
        else ProxyEnv(
            http_proxy=proxy.text("http_proxy"),
            https_proxy=proxy.text("https_proxy"),
            ftp_proxy=proxy.text("ftp_proxy"),
            no_proxy=proxy.text("no_proxy"),
            all_proxy=proxy.text("all_proxy"),
        ),
        ulimits=tuple(
            Ulimit(u.text("Name"), u.num("Soft"), u.num("Hard")) for u in o.objs("ulimit")
        ),
        cgroup_parent=o.text("cgroupParent"),
        remove_mount_stubs_recursive=o.flag("removeMountStubsRecursive"),
        valid_exit_codes=o.nums("validExitCodes"),
    )


def _mount(o: Obj) -> Mount:
    cache = o.opt_obj("cacheOpt")
    secret = o.opt_obj("secretOpt")
    ssh = o.opt_obj("SSHOpt")
    tmpfs = o.opt_obj("TmpfsOpt")
    return Mount(
        dest=o.text("dest"),
        type=o.enum("mountType", _MOUNT_TYPES),
        input=o.num("input"),
        selector=o.text("selector"),
        output=o.num("output"),
        readonly=o.flag("readonly"),
        cache=None
        if cache is None
        else CacheOpt(cache.text("ID"), cache.enum("sharing", _SHARING)),
        secret=None
        if secret is None
        else SecretOpt(
            id=secret.text("ID"),
            uid=secret.num("uid"),
            gid=secret.num("gid"),
            mode=secret.num("mode"),
            optional=secret.flag("optional"),
        ),
        ssh=None
        if ssh is None
        else SSHOpt(
            id=ssh.text("ID"),
            uid=ssh.num("uid"),
            gid=ssh.num("gid"),
            mode=ssh.num("mode"),
            optional=ssh.flag("optional"),
        ),
        tmpfs_size=None if tmpfs is None else tmpfs.num("size"),
        result_id=o.text("resultID"),
        content_cache=o.enum("contentCache", _CONTENT_CACHE),
    )


def _file_action(o: Obj) -> FileAction:
    action = o.obj("Action")
    present = [k for k in action.d if action.d[k] is not None]
    name = present[0] if len(present) == 1 else ""
    try:
        kind = FileActionKind(name)
    except ValueError:
        kind = FileActionKind.UNKNOWN
    body = action.obj(name) if kind is not FileActionKind.UNKNOWN else Obj({}, action.path)
    mode = body.num("mode")
    src = dest = ""
    if kind is FileActionKind.COPY:
        src, dest = body.text("src"), body.text("dest")
    elif kind in (FileActionKind.MKFILE, FileActionKind.MKDIR, FileActionKind.RM):
        dest = body.text("path")
    elif kind is FileActionKind.SYMLINK:
        src, dest = body.text("oldpath"), body.text("newpath")
    return FileAction(
        kind=kind,
        input=o.num("input"),
        secondary_input=o.num("secondaryInput"),
        output=o.num("output"),
        src=src,
        dest=dest,
        mode=None if mode < 0 or kind in (FileActionKind.RM, FileActionKind.SYMLINK) else mode,
        include_patterns=body.texts("include_patterns"),
        exclude_patterns=body.texts("exclude_patterns"),
        allow_wildcard=body.flag("allowWildcard"),
        allow_not_found=body.flag("allowNotFound"),
    )


def _diff_input(o: Obj, key: str) -> int | None:
    side = o.opt_obj(key)
    if side is None:
        return None
    n = side.num("input")
    return None if n < 0 else n
