"""Scan the layers a build produced: find each blob, stream it once, remember the result.

Blobs are read from a local cache export when it has them (a plain file) and otherwise
streamed from the builder's content store. Layers are content-addressed, so a scan is kept
in a small on-disk cache keyed by the blob digest and the scanner version: an unchanged base
image is scanned once per machine, not once per build.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from cachetrace import __version__
from cachetrace.capture_io.codec import from_jsonable, to_jsonable
from cachetrace.capture_io.files import write_atomic
from cachetrace.errors import CachetraceError
from cachetrace.model.oci import Descriptor
from cachetrace.model.outputs import LayerScan

SCAN_CACHE_FORMAT = f"{__version__}-1"


def cache_root(env: dict[str, str] | None = None) -> Path:
    e = os.environ if env is None else env
    if e.get("CACHETRACE_CACHE_DIR"):
        return Path(e["CACHETRACE_CACHE_DIR"])
    base = e.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cachetrace"


class ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        closer = getattr(self._it, "close", None)
        if callable(closer):
            closer()
        super().close()


class ScanCache:
    def __init__(self, root: Path) -> None:
        self.root = root / "scans" / SCAN_CACHE_FORMAT

    def _path(self, digest: str) -> Path:
        return self.root / (digest.replace(":", "-") + ".json")

    def get(self, digest: str) -> LayerScan | None:
        try:
            data = self._path(digest).read_bytes()
            return from_jsonable(LayerScan, orjson.loads(data))
        except (OSError, orjson.JSONDecodeError, CachetraceError):
            return None

    def put(self, digest: str, scan: LayerScan) -> None:
        with contextlib.suppress(OSError):
            write_atomic(self._path(digest), orjson.dumps(to_jsonable(scan)))


Opener = Callable[[Descriptor], BinaryIO]


def scan_blob(desc: Descriptor, open_blob: Opener, cache: ScanCache | None) -> LayerScan:
    """Scan one layer blob (from the cache when known); raises the scanner's typed errors."""
    from cachetrace.outputs.layer import scan_layer

    if cache is not None:
        hit = cache.get(desc.digest)
        if hit is not None:
            return hit
    with open_blob(desc) as stream:
        scan = scan_layer(stream, media_type=desc.media_type or None, name=desc.digest)
    if cache is not None:
        cache.put(desc.digest, scan)
    return scan


def blob_opener(
    cache_dirs: Iterable[Path], read_remote: Callable[[Descriptor], Iterable[bytes]]
) -> Opener:
    """Open a blob from a local OCI layout (cache export) if there, else from the builder."""
    dirs = list(cache_dirs)

    def open_blob(desc: Descriptor) -> BinaryIO:
        algo, _, hexd = desc.digest.partition(":")
        for d in dirs:
            p = d / "blobs" / algo / hexd
            if p.is_file():
                return p.open("rb")
        return io.BufferedReader(ChunkReader(read_remote(desc)), buffer_size=1 << 20)

    return open_blob
