"""Read a layer blob in one streaming pass: entries, diffID, content digest, executables.

Two threads share the work: a producer reads and decompresses the blob and hashes the
uncompressed tar (the diffID) while the caller's thread parses tar headers and hashes each
file's content. zlib/ISA-L, zstd and hashlib release the GIL on large buffers, so the two
overlap on two cores. At most ``QUEUE_DEPTH`` chunks of ``OUT_CHUNK`` bytes sit between them.

Executables are recognised by their first bytes as they stream past; up to ``binary_cap``
bytes of each (256 MiB by default) are kept just long enough to read their headers and Go
build info, so memory peaks at about twice that cap for one huge binary. A binary larger than
the cap is inspected from its prefix and marked ``truncated``.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator

from cachetrace.errors import BinaryFormatError, LayerError
from cachetrace.model.outputs import BinaryInfo, FileEntry, FileType, LayerScan
from cachetrace.outputs import decompress, tar
from cachetrace.outputs.binary import MAGIC_LEN, executable_format, inspect_binary
from cachetrace.outputs.decompress import Readable
from cachetrace.outputs.paths import clean, join, split

BINARY_CAP = 256 * 1024 * 1024
QUEUE_DEPTH = 4
CONTENT_DIGEST_VERSION = b"cachetrace-content-digest-v1\n"
_MIN_BINARY = 64  # smaller than any ELF/PE/Mach-O header worth reading

_TYPES = {
    ord("0"): FileType.FILE,
    0: FileType.FILE,
    ord("7"): FileType.FILE,
    ord("S"): FileType.FILE,
    ord("1"): FileType.HARDLINK,
    ord("2"): FileType.SYMLINK,
    ord("3"): FileType.CHAR_DEVICE,
    ord("4"): FileType.BLOCK_DEVICE,
    ord("5"): FileType.DIR,
    ord("6"): FileType.FIFO,
}
_END = object()


def scan_layer(
    stream: Readable,
    *,
    media_type: str | None = None,
    name: str = "",
    want_binary: Callable[[str], bool] | None = None,
    binary_cap: int = BINARY_CAP,
) -> LayerScan:
    """Read a whole layer blob once. Raises LayerError naming ``name`` and the offset reached.

    ``stream`` is anything with ``read(n) -> bytes`` (a file, a BinaryIO, a content-store
    reader); it is read sequentially and never seeked.

    ``want_binary(path)`` limits which executables are inspected (default: all of them).
    """
    scanner = _Scanner(stream, media_type, name, want_binary, binary_cap)
    entries = tuple(scanner.entries())
    return LayerScan(
        name=name,
        compression=scanner.compression,
        compressed_size=scanner.reader.count,
        uncompressed_size=scanner.producer.size,
        diff_id="sha256:" + scanner.producer.diff.hexdigest(),
        content_digest=content_digest(entries),
        entries=entries,
        binaries=tuple(scanner.binaries),
    )


def iter_layer(
    stream: Readable, *, media_type: str | None = None, name: str = ""
) -> Generator[FileEntry, None, None]:
    """Yield the entries of a layer blob as they stream past (no executables inspected)."""
    return _Scanner(stream, media_type, name, lambda _path: False, 0).entries()


def content_digest(entries: Iterable[FileEntry]) -> str:
    """sha256 over the sorted entries without mtimes: equal for the same files in any order."""
    lines = sorted(
        json.dumps(
            [
                e.path,
                e.type.value,
                e.mode,
                e.uid,
                e.gid,
                e.size,
                e.sha256 or "",
                e.link_target,
                e.devmajor,
                e.devminor,
                sorted(e.xattrs.items()),
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8", errors="surrogatepass")
        for e in entries
    )
    h = hashlib.sha256(CONTENT_DIGEST_VERSION)
    for line in lines:
        h.update(line)
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


class _Producer(threading.Thread):
    """Decompresses and hashes the blob, handing chunks to the parsing thread."""

    def __init__(self, chunks: Iterator[bytes], label: str) -> None:
        super().__init__(name=f"cachetrace-layer-{label}", daemon=True)
        self.chunks = chunks
        self.queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.stopped = threading.Event()
        self.diff = hashlib.sha256()
        self.size = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                self.diff.update(chunk)
                self.size += len(chunk)
                if not self._put(chunk):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.error = exc
        self._put(_END)

    def _put(self, item: object) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def consume(self) -> Iterator[bytes]:
        while True:
            item = self.queue.get()
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            assert isinstance(item, bytes)
            yield item


class _Scanner:
    def __init__(
        self,
        stream: Readable,
        media_type: str | None,
        name: str,
        want_binary: Callable[[str], bool] | None,
        binary_cap: int,
    ) -> None:
        self.name = name or "<stream>"
        try:
            head = stream.read(decompress.IN_CHUNK)
        except OSError as exc:
            raise LayerError(f"layer {self.name}: cannot read: {exc}") from None
        self.compression = decompress.compression_of(media_type, head)
        self.reader = decompress.CountingReader(_SafeStream(stream, self), head)
        self.want_binary = want_binary
        self.binary_cap = binary_cap
        self.binaries: list[BinaryInfo] = []
        self.files: dict[str, tuple[int, str | None]] = {}
        chunks = decompress.decompressed_chunks(self.compression, self.reader, self.fail)
        self.producer = _Producer(chunks, self.name)
        self.inp = tar.ChunkInput(self.producer.consume())

    def fail(self, message: str) -> LayerError:
        return LayerError(
            f"layer {self.name}: {message} "
            f"(reached {self.reader.count} bytes of the {self.compression} blob, "
            f"{self.producer.size} uncompressed)"
        )

    def entries(self) -> Generator[FileEntry, None, None]:
        self.producer.start()
        try:
            for h in tar.members(self.inp, self.fail):
                entry = self._entry(h)
                if entry is not None:
                    yield entry
            self.inp.drain()
        finally:
            self.producer.stopped.set()
            self.producer.join()

    def _entry(self, h: tar.Header) -> FileEntry | None:
        path = clean(h.name)
        parent, base = split(path)
        if base.startswith(".wh."):
            if base == ".wh..wh..opq":
                return _entry(h, parent, FileType.OPAQUE_WHITEOUT)
            if base.startswith(".wh..wh."):
                return None  # AUFS bookkeeping (.wh..wh.plnk and the like), not content
            return _entry(h, join(parent, base[4:]), FileType.WHITEOUT)
        ftype = _TYPES.get(h.typeflag, FileType.FILE)  # unknown types read as files (POSIX)
        if ftype is FileType.FILE:
            size, digest = h.size, self._content(h, path)
            self.files[path] = (size, digest)
            return _entry(h, path, ftype, size=size, sha256=digest)
        if ftype is FileType.HARDLINK:
            target = clean(h.linkname)
            size, linked = self.files.get(target, (0, None))
            self.files[path] = (size, linked)
            return _entry(h, path, ftype, size=size, sha256=linked, link_target=target)
        if ftype is FileType.SYMLINK:
            return _entry(h, path, ftype, link_target=h.linkname)
        if ftype in (FileType.CHAR_DEVICE, FileType.BLOCK_DEVICE):
            return _entry(h, path, ftype, devmajor=h.devmajor, devminor=h.devminor)
        return _entry(h, path, ftype)

    def _content(self, h: tar.Header, path: str) -> str:
        digest = hashlib.sha256()
        undecided = self.binary_cap > 0 and h.size >= _MIN_BINARY
        prefix = bytearray()
        keep: bytearray | None = None
        cap = self.binary_cap
        try:
            for piece in self.inp.pieces(h.size):
                digest.update(piece)
                if keep is not None:
                    if len(keep) < cap:
                        keep += piece[: cap - len(keep)]
                elif undecided:
                    prefix += piece
                    if len(prefix) >= MAGIC_LEN:
                        undecided = False
                        if executable_format(bytes(prefix[:MAGIC_LEN])) is not None and (
                            self.want_binary is None or self.want_binary(path)
                        ):
                            keep = prefix[:cap]
                        prefix = bytearray()
        except EOFError:
            raise self.fail(f"truncated content of {path} (header at offset {h.offset})") from None
        if keep is not None:
            self._inspect(bytes(keep), path, h.size)
        return "sha256:" + digest.hexdigest()

    def _inspect(self, data: bytes, path: str, size: int) -> None:
        try:
            info = inspect_binary(data, path, size=size)
        except BinaryFormatError:
            return  # an executable magic on a corrupt file: an entry, not a binary
        if info is not None:
            self.binaries.append(info)


def _entry(
    h: tar.Header,
    path: str,
    ftype: FileType,
    *,
    size: int = 0,
    sha256: str | None = None,
    link_target: str = "",
    devmajor: int = 0,
    devminor: int = 0,
) -> FileEntry:
    return FileEntry(
        path=path,
        type=ftype,
        mode=h.mode & 0o7777,
        uid=h.uid,
        gid=h.gid,
        size=size,
        sha256=sha256,
        link_target=link_target,
        mtime=h.mtime,
        devmajor=devmajor,
        devminor=devminor,
        xattrs=h.xattrs,
    )


class _SafeStream:
    """The blob stream with OSError turned into a LayerError that says how far it got."""

    def __init__(self, stream: Readable, scanner: _Scanner) -> None:
        self._stream = stream
        self._scanner = scanner

    def read(self, n: int) -> bytes:
        try:
            return self._stream.read(n)
        except OSError as exc:
            raise self._scanner.fail(f"cannot read: {exc}") from None
