"""Layer blob decompression as a stream of bounded chunks: gzip, zstd or none.

The media type decides when it names a compression (``+gzip``, ``+zstd``, a plain ``tar``);
otherwise the magic bytes do. Every chunk is at most ``OUT_CHUNK`` bytes whatever the
compression ratio, so memory stays bounded. Zstd uses ``pyzstd`` (bounded output per call and
an end-of-frame flag to detect truncation). Gzip is inflated with ISA-L (``isal``) when it
is installed (about 2-3x faster than zlib, see bench/RESULTS-layer-scan.md), else with zlib;
concatenated gzip members (pigz, ``docker save`` of some tools) are read as one stream.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Protocol, cast

from cachetrace.errors import LayerError

IN_CHUNK = 256 * 1024
OUT_CHUNK = 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _Inflater(Protocol):
    eof: bool
    unconsumed_tail: bytes
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...

    def flush(self) -> bytes: ...


def _zlib_module() -> ModuleType:
    if os.environ.get("CACHETRACE_INFLATE") == "zlib":  # force the stdlib (benchmarks, bugs)
        return zlib
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a declared dependency
        return zlib
    return isal_zlib


_ZLIB = _zlib_module()
INFLATE_BACKEND = "isal" if _ZLIB is not zlib else "zlib"


def compression_of(media_type: str | None, head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` from the media type, else from the first bytes."""
    if media_type:
        mt = media_type.lower()
        if mt.endswith(("+gzip", ".gzip", "tar.gzip")):
            return "gzip"
        if mt.endswith(("+zstd", ".zstd")):
            return "zstd"
        if mt.endswith((".tar", "layer.v1.tar")):
            return "none"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


class CountingReader:
    """Reads a stream in chunks and counts the compressed bytes read so far."""

    def __init__(self, stream: Readable, first: bytes = b"") -> None:
        self._stream = stream
        self._first = first
        self.count = 0

    def read(self, n: int = IN_CHUNK) -> bytes:
        if self._first:
            data, self._first = self._first, b""
        else:
            data = self._stream.read(n)
        self.count += len(data)
        return data


def decompressed_chunks(
    compression: str, reader: CountingReader, fail: Callable[[str], LayerError]
) -> Iterator[bytes]:
    """Yield the uncompressed stream in chunks of at most OUT_CHUNK bytes."""
    if compression == "gzip":
        return _gunzip(reader, fail)
    if compression == "zstd":
        return _unzstd(reader, fail)
    return _plain(reader)


def _plain(reader: CountingReader) -> Iterator[bytes]:
    while True:
        data = reader.read(OUT_CHUNK)
        if not data:
            return
        yield data


def _gunzip(reader: CountingReader, fail: Callable[[str], LayerError]) -> Iterator[bytes]:
    d = cast(_Inflater, _ZLIB.decompressobj(wbits=31))
    pending = b""
    members = 0
    try:
        while True:
            if not pending:
                pending = reader.read(IN_CHUNK)
                if not pending:
                    tail = d.flush()
                    if tail:
                        yield tail
                    if not d.eof:
                        raise fail("truncated gzip stream")
                    return
            out = d.decompress(pending, OUT_CHUNK)
            pending = d.unconsumed_tail
            if out:
                yield out
            if d.eof:
                members += 1
                pending = d.unused_data
                if not pending:
                    pending = reader.read(IN_CHUNK)
                if not pending:
                    return
                if not pending.strip(b"\0"):
                    # trailing zero padding after the last member (gzip -d accepts it)
                    while pending:
                        if pending.strip(b"\0"):
                            raise fail("garbage after gzip padding")
                        pending = reader.read(IN_CHUNK)
                    return
                d = cast(_Inflater, _ZLIB.decompressobj(wbits=31))
    except (zlib.error, _ZLIB.error) as exc:
        raise fail(f"corrupt gzip stream (member {members + 1}): {exc}") from None


def _unzstd(reader: CountingReader, fail: Callable[[str], LayerError]) -> Iterator[bytes]:
    import pyzstd

    d = pyzstd.EndlessZstdDecompressor()  # reads concatenated frames as one stream
    try:
        while True:
            data = b""
            if d.needs_input:
                data = reader.read(IN_CHUNK)
                if not data:
                    if not d.at_frame_edge:
                        raise fail("truncated zstd stream")
                    return
            out = d.decompress(data, OUT_CHUNK)
            if out:
                yield out
    except pyzstd.ZstdError as exc:
        raise fail(f"corrupt zstd stream: {exc}") from None
