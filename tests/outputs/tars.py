"""Layer tars for tests, written with the standard library's tarfile (an independent writer)."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass, field

import pyzstd


@dataclass
class M:
    """One member to write: ``kind`` is a tarfile type constant."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = 1_700_000_000
    link: str = ""
    devmajor: int = 0
    devminor: int = 0
    pax: dict[str, str] = field(default_factory=dict)


def make_tar(members: list[M], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = m.kind
            info.mode = m.mode
            info.uid, info.gid = m.uid, m.gid
            info.mtime = m.mtime
            info.linkname = m.link
            info.devmajor, info.devminor = m.devmajor, m.devminor
            info.pax_headers = dict(m.pax)
            if m.kind == tarfile.REGTYPE:
                info.size = len(m.data)
                tf.addfile(info, io.BytesIO(m.data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def zst(data: bytes) -> bytes:
    return bytes(pyzstd.compress(data))
