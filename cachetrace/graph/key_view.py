"""What enters an exec step's cache key, and what the step uses that does not.

:func:`key_view` flattens the normalised ExecOp that BuildKit hashes
(:func:`cachetrace.graph.exec_key.normalized_exec`) into named fields, one per leaf, plus the
platform. Names are paths readable in a finding or a diff:

- ``platform.OS``, ``platform.Arch``, ``platform.Variant``
- ``meta.args`` (the whole list), ``meta.env[GOPROXY]`` (one per variable; its value is the
  whole ``GOPROXY=…`` entry, the shape capture redaction recognises for secret names),
  ``meta.env(order)`` (the names in order: reordering alone changes the key), ``meta.cwd``,
  ``meta.user``, ``meta.extraHosts[name]`` (IPs are not in the key), ``meta.ulimit[nofile].Soft``
- ``mounts(order)`` (the targets in order), ``mounts[/root/.cache].mountType``,
  ``mounts[/root/.cache].cacheOpt.ID``, ``mounts[/run/secrets/tok].secretOpt.ID``,
  ``mounts[/scratch].TmpfsOpt`` (``{}``: present, no options)
- ``network``, ``security``, ``secretenv[TOK].ID``

Fields left out of the normalised JSON (zero values) are absent, so a diff shows them as added
or removed, exactly as the key sees them. The inputs outside the key are listed as
:class:`OutsideInput`: proxy variables (names only, their values can carry credentials),
cache mounts (contents, and the id when BuildKit clears it), secrets, ssh agents, tmpfs, network
access, mount selectors (not in the op digest; they reach the key through the input link's
selector) and extra-host IPs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cachetrace.graph.exec_key import (
    MOUNT_BIND,
    MOUNT_CACHE,
    MOUNT_SECRET,
    MOUNT_SSH,
    MOUNT_TMPFS,
    PlatformLike,
    cache_opts_in_key,
    exec_key,
    exec_of,
    record_digest,
)
from cachetrace.model import JSONValue

__all__ = [
    "NETWORK_NONE",
    "ChangeKind",
    "KeyChange",
    "KeyField",
    "KeyView",
    "OutsideInput",
    "OutsideKind",
    "diff_key_views",
    "key_view",
]

# pb.NetMode
NETWORK_SANDBOX, NETWORK_HOST, NETWORK_NONE = 0, 1, 2
_NETWORK_NAMES = {NETWORK_SANDBOX: "sandbox", NETWORK_HOST: "host", NETWORK_NONE: "none"}
_SKIP_OUTPUT = -1


class OutsideKind(str, Enum):
    """Kinds of inputs a step uses that its cache key does not cover."""

    PROXY_ENV = "proxy_env"  # name of a proxy variable given to the step (value not kept)
    CACHE_MOUNT = "cache_mount"  # a cache mount's contents
    CACHE_ID = "cache_id"  # a cache mount's id/sharing, cleared from the key
    SECRET_MOUNT = "secret_mount"  # a secret's value, mounted as a file
    SECRET_ENV = "secret_env"  # a secret's value, given as an environment variable
    SSH_MOUNT = "ssh_mount"  # an ssh agent socket
    TMPFS_MOUNT = "tmpfs_mount"  # a tmpfs (empty at start, dropped at the end)
    NETWORK_ACCESS = "network_access"  # whatever the step fetches over the network
    SELECTOR = "selector"  # a mount's source path: in the input link, not the op digest
    HOST_IP = "host_ip"  # an extra host's IP (the name is in the key)


@dataclass(frozen=True, slots=True)
class KeyField:
    """One leaf of the normalised op that BuildKit hashes."""

    path: str
    value: JSONValue


@dataclass(frozen=True, slots=True)
class OutsideInput:
    """Something the step uses that its cache key does not cover.

    ``name`` is the id, variable or host name (never a secret or proxy value); ``target`` is
    the mount target or variable it lands in, ``""`` when none.
    """

    kind: OutsideKind
    name: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class KeyView:
    """An exec step's key: its fields, its digests, and the inputs outside it."""

    cache_digest: str  # the CacheMap digest
    record_digests: tuple[str, ...]  # record digest of each output, by output index
    fields: tuple[KeyField, ...]
    outside: tuple[OutsideInput, ...]
    unknown_fields: tuple[str, ...] = ()  # op fields unknown to cachetrace: digest not assured

    def field(self, path: str) -> KeyField | None:
        for key_field in self.fields:
            if key_field.path == path:
                return key_field
        return None

    def outside_of(self, kind: OutsideKind) -> tuple[OutsideInput, ...]:
        return tuple(o for o in self.outside if o.kind is kind)


class ChangeKind(str, Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class KeyChange:
    """A key field that differs between two steps (``before`` from the first)."""

    path: str
    kind: ChangeKind
    before: JSONValue = None
    after: JSONValue = None


# Lists of messages, and the field that names each item in a path.
_KEYED_LISTS = {
    "meta.extraHosts": "Host",
    "meta.ulimit": "Name",
    "mounts": "dest",
    "secretenv": "name",
    "cdiDevices": "name",
}


def _label(items: list[Any], key: str) -> list[str]:
    """Item labels for a keyed list: the key field, ``#n`` added when it repeats."""
    seen: dict[str, int] = {}
    labels = []
    for i, item in enumerate(items):
        base = str(item.get(key, f"#{i}")) if isinstance(item, Mapping) else f"#{i}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        labels.append(base if count == 0 else f"{base}#{count}")
    return labels


def _flatten(value: Any, path: str) -> Iterator[KeyField]:
    if path in _KEYED_LISTS and isinstance(value, list):
        key = _KEYED_LISTS[path]
        labels = _label(value, key)
        yield KeyField(f"{path}(order)", labels)
        for label, item in zip(labels, value, strict=True):
            # The naming field is in the label and the order list: not repeated as a leaf.
            rest = (
                {k: v for k, v in item.items() if k != key} if isinstance(item, Mapping) else item
            )
            if rest != {}:
                yield from _flatten(rest, f"{path}[{label}]")
        return
    if path == "meta.env" and isinstance(value, list):
        entries = [str(e).partition("=") for e in value]
        labels = _label([{"n": name} for name, _, _ in entries], "n")
        yield KeyField("meta.env(order)", labels)
        for label, entry in zip(labels, value, strict=True):
            # The whole "NAME=value" entry: redaction recognises secret names in that shape.
            yield KeyField(f"meta.env[{label}]", entry)
        return
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
        return
    yield KeyField(path, value)


def _outside(exec_op: Mapping[str, Any]) -> Iterator[OutsideInput]:
    meta = exec_op.get("meta") or {}
    proxy = meta.get("proxy_env") or {}
    for name, value in proxy.items():
        if value:
            yield OutsideInput(OutsideKind.PROXY_ENV, name=name)
    for host in meta.get("extraHosts") or ():
        if host.get("IP"):
            yield OutsideInput(OutsideKind.HOST_IP, name=str(host.get("Host", "")))
    network = exec_op.get("network", NETWORK_SANDBOX)
    if network != NETWORK_NONE:
        yield OutsideInput(OutsideKind.NETWORK_ACCESS, name=_NETWORK_NAMES.get(network, "other"))
    for mount in exec_op.get("mounts") or ():
        dest = str(mount.get("dest", ""))
        mount_type = mount.get("mountType", 0)
        if mount.get("selector"):
            yield OutsideInput(OutsideKind.SELECTOR, name=str(mount["selector"]), target=dest)
        if mount_type == MOUNT_CACHE:
            opt = mount.get("cacheOpt") or {}
            cache_id = str(opt.get("ID", ""))
            yield OutsideInput(OutsideKind.CACHE_MOUNT, name=cache_id, target=dest)
            if not cache_opts_in_key(mount) and any(opt.values()):
                yield OutsideInput(OutsideKind.CACHE_ID, name=cache_id, target=dest)
        elif mount_type == MOUNT_SECRET:
            secret_id = str((mount.get("secretOpt") or {}).get("ID", ""))
            yield OutsideInput(OutsideKind.SECRET_MOUNT, name=secret_id, target=dest)
        elif mount_type == MOUNT_SSH:
            ssh_id = str((mount.get("SSHOpt") or {}).get("ID", "")) or "default"
            yield OutsideInput(OutsideKind.SSH_MOUNT, name=ssh_id, target=dest)
        elif mount_type == MOUNT_TMPFS:
            yield OutsideInput(OutsideKind.TMPFS_MOUNT, target=dest)
    for secret in exec_op.get("secretenv") or ():
        yield OutsideInput(
            OutsideKind.SECRET_ENV,
            name=str(secret.get("ID", "")),
            target=str(secret.get("name", "")),
        )


def _outputs(exec_op: Mapping[str, Any]) -> int:
    """Number of outputs: read-write bind mounts with an output index (secret, ssh, tmpfs and
    cache mounts never give one, whatever their ``output`` field says)."""
    indexes = [
        m.get("output", 0)
        for m in exec_op.get("mounts") or ()
        if m.get("mountType", MOUNT_BIND) == MOUNT_BIND and not m.get("readonly")
    ]
    valid = [o for o in indexes if isinstance(o, int) and o >= 0 and o != _SKIP_OUTPUT]
    return max(valid) + 1 if valid else 0


def key_view(
    op: Mapping[str, Any],
    platform: PlatformLike | None = None,
    *,
    default_platform: PlatformLike | None = None,
) -> KeyView:
    """The key view of an exec op as the provenance gives it (see ``exec_key``)."""
    exec_op = exec_of(op)
    key = exec_key(op, platform, default_platform=default_platform)
    digest = key.digest
    fields = [KeyField(f"platform.{name}", value) for name, value in key.platform.items()]
    fields.extend(_flatten(key.exec, ""))
    for name in ("network", "security"):
        if not any(f.path == name for f in fields):
            fields.append(KeyField(name, 0))  # omitted from the JSON: the zero value counts
    return KeyView(
        cache_digest=digest,
        record_digests=tuple(record_digest(digest, i) for i in range(_outputs(exec_op))),
        fields=tuple(fields),
        outside=tuple(_outside(exec_op)),
        unknown_fields=key.unknown_fields,
    )


def diff_key_views(a: KeyView, b: KeyView) -> tuple[KeyChange, ...]:
    """The key fields that differ from ``a`` to ``b``, in ``a``'s order then ``b``'s new ones."""
    after = {f.path: f.value for f in b.fields}
    before = {f.path: f.value for f in a.fields}
    changes: list[KeyChange] = []
    for path, value in before.items():
        if path not in after:
            changes.append(KeyChange(path, ChangeKind.REMOVED, before=value))
        elif after[path] != value:
            changes.append(KeyChange(path, ChangeKind.CHANGED, before=value, after=after[path]))
    for path, value in after.items():
        if path not in before:
            changes.append(KeyChange(path, ChangeKind.ADDED, after=value))
    return tuple(changes)
