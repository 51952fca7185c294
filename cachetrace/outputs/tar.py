"""A streaming tar reader: ustar, GNU (long names, base-256 numbers) and PAX headers.

It reads from ``ChunkInput`` (uncompressed chunks) without seeking and without keeping
member content: the caller streams a regular file's content with ``ChunkInput.pieces`` while
the member is current; whatever it leaves unread is skipped. Extended headers (PAX, GNU
long names) are capped at ``MAX_EXTENDED`` bytes so a hostile archive cannot make it hold
more. Only POSIX "data-carrying" types consume content blocks, as in Go's archive/tar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cachetrace.errors import LayerError

BLOCK = 512
MAX_EXTENDED = 1024 * 1024
_ZERO = bytes(BLOCK)
# Type flags whose size field is ignored (no content blocks follow).
_HEADER_ONLY = frozenset(b"123456")


class ChunkInput:
    """Exact reads over an iterator of byte chunks, counting the offset reached."""

    __slots__ = ("_buf", "_chunks", "_pos", "offset")

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self.offset = 0

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buf, self._pos = chunk, 0
                return True
        return False

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the stream)."""
        avail = len(self._buf) - self._pos
        if avail >= n:
            data = self._buf[self._pos : self._pos + n]
            self._pos += n
            self.offset += n
            return data
        parts = [self._buf[self._pos :]]
        need = n - avail
        self.offset += avail
        self._pos = len(self._buf)
        while need and self._fill():
            take = min(need, len(self._buf))
            parts.append(self._buf[:take])
            self._pos = take
            self.offset += take
            need -= take
        return b"".join(parts)

    def pieces(self, n: int) -> Iterator[memoryview]:
        """The next ``n`` bytes as views into the chunks; raises EOFError if the stream ends."""
        while n:
            if self._pos == len(self._buf) and not self._fill():
                raise EOFError
            take = min(n, len(self._buf) - self._pos)
            yield memoryview(self._buf)[self._pos : self._pos + take]
            self._pos += take
            self.offset += take
            n -= take

    def skip(self, n: int) -> None:
        for _ in self.pieces(n):
            pass

    def drain(self) -> None:
        """Consume the rest of the stream (so a producer hashing it sees every byte)."""
        self.offset += len(self._buf) - self._pos
        self._pos = len(self._buf)
        for chunk in self._chunks:
            self.offset += len(chunk)


@dataclass(slots=True)
class Header:
    """One member's header after PAX and GNU extensions are applied."""

    name: str
    typeflag: int
    mode: int
    uid: int
    gid: int
    size: int  # content bytes that follow (0 for header-only types)
    mtime: float
    linkname: str
    devmajor: int
    devminor: int
    offset: int  # where the header starts in the uncompressed stream
    xattrs: dict[str, str] = field(default_factory=dict)


def members(inp: ChunkInput, fail: Callable[[str], LayerError]) -> Iterator[Header]:
    """Yield each member's header; the member's content is current until the next one."""
    global_pax: dict[str, bytes] = {}
    pax: dict[str, bytes] = {}
    long_name: str | None = None
    long_link: str | None = None
    first = True
    while True:
        start = inp.offset
        block = inp.read(BLOCK)
        if not block:
            if first:
                raise fail("empty blob: not a tar archive")
            return  # no end-of-archive blocks: accepted, like GNU tar and Go
        if len(block) < BLOCK:
            raise fail(f"truncated tar header at offset {start}")
        if block == _ZERO:
            return
        first = False
        _check_sum(block, start, fail)
        typeflag = block[156]
        size = _number(block[124:136], "size", start, fail)
        if size < 0:
            raise fail(f"negative member size at offset {start}")
        if typeflag in b"xgLK":
            if size > MAX_EXTENDED:
                raise fail(f"extended header of {size} bytes at offset {start}")
            data = inp.read(_padded(size))
            if len(data) < _padded(size):
                raise fail(f"truncated extended header at offset {start}")
            data = data[:size]
            if typeflag == ord("x"):
                pax.update(_pax_records(data, start, fail))
            elif typeflag == ord("g"):
                global_pax.update(_pax_records(data, start, fail))
            elif typeflag == ord("L"):
                long_name = _text(data.split(b"\0", 1)[0])
            else:
                long_link = _text(data.split(b"\0", 1)[0])
            continue
        if typeflag == ord("V"):  # volume label
            inp.skip(_padded(size))
            continue
        records = {**global_pax, **pax} if global_pax else pax
        name = _text(_cstring(block[0:100]))
        if block[257:263] == b"ustar\0":
            prefix = _cstring(block[345:500])
            if prefix:
                name = _text(prefix) + "/" + name
        header = Header(
            name=long_name if long_name is not None else name,
            typeflag=typeflag,
            mode=_number(block[100:108], "mode", start, fail),
            uid=_number(block[108:116], "uid", start, fail),
            gid=_number(block[116:124], "gid", start, fail),
            size=0 if typeflag in _HEADER_ONLY else size,
            mtime=float(_number(block[136:148], "mtime", start, fail)),
            linkname=long_link if long_link is not None else _text(_cstring(block[157:257])),
            devmajor=_number(block[329:337], "devmajor", start, fail),
            devminor=_number(block[337:345], "devminor", start, fail),
            offset=start,
        )
        if records:
            _apply_pax(header, records, fail)
        pax, long_name, long_link = {}, None, None
        content_end = inp.offset + _padded(header.size)
        yield header
        remaining = content_end - inp.offset
        if remaining < 0:
            raise fail(f"member at offset {start} read past its content")
        try:
            inp.skip(remaining)
        except EOFError:
            raise fail(f"truncated content of {header.name!r} (header at offset {start})") from None


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _cstring(raw: bytes) -> bytes:
    end = raw.find(b"\0")
    return raw if end < 0 else raw[:end]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _check_sum(block: bytes, start: int, fail: Callable[[str], LayerError]) -> None:
    stored = _number(block[148:156], "checksum", start, fail)
    unsigned = sum(block) - sum(block[148:156]) + 8 * 32
    if stored == unsigned:
        return
    high = sum(1 for b in block[:148] if b > 127) + sum(1 for b in block[156:] if b > 127)
    signed = unsigned - 256 * high
    if stored != signed:
        raise fail(f"bad tar header checksum at offset {start} (not a tar, or corrupt)")


def _number(raw: bytes, what: str, start: int, fail: Callable[[str], LayerError]) -> int:
    if raw and raw[0] & 0x80:  # GNU base-256
        if raw[0] == 0xFF:
            return int.from_bytes(raw, "big", signed=True)
        return int.from_bytes(bytes([raw[0] & 0x7F]) + raw[1:], "big")
    text = _cstring(raw).strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise fail(f"bad {what} field {text[:16]!r} in tar header at offset {start}") from None


def _pax_records(data: bytes, start: int, fail: Callable[[str], LayerError]) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos, pos + 21)
        try:
            length = int(data[pos:space]) if space > pos else -1
        except ValueError:
            length = -1
        end = pos + length
        if length <= space - pos or end > len(data) or data[end - 1] != 0x0A:
            raise fail(f"bad PAX record in extended header at offset {start}")
        key, eq, value = data[space + 1 : end - 1].partition(b"=")
        if not eq:
            raise fail(f"PAX record without '=' in extended header at offset {start}")
        records[_text(key)] = value
        pos = end
    return records


def _apply_pax(h: Header, records: dict[str, bytes], fail: Callable[[str], LayerError]) -> None:
    try:
        for key, value in records.items():
            if key == "path":
                h.name = _text(value)
            elif key == "linkpath":
                h.linkname = _text(value)
            elif key == "size":
                if h.typeflag not in _HEADER_ONLY:
                    h.size = int(value)
                    if h.size < 0:
                        raise ValueError("negative size")
            elif key == "uid":
                h.uid = int(value)
            elif key == "gid":
                h.gid = int(value)
            elif key == "mtime":
                h.mtime = float(value)
                if not math.isfinite(h.mtime):
                    raise ValueError("mtime is not a finite number")
            elif key.startswith("SCHILY.xattr."):
                h.xattrs[key.removeprefix("SCHILY.xattr.")] = value.hex()
    except ValueError as exc:
        raise fail(f"bad PAX value in the header at offset {h.offset}: {exc}") from None
