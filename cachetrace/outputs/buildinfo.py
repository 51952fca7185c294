"""Go build info from the bytes of a binary, pure Python (what ``go version -m`` prints).

The blob starts with ``\\xff Go buildinf:`` at a 16-byte aligned offset of the data Go's linker
names (ELF ``.go.buildinfo`` or the first writable non-executable PT_LOAD, Mach-O
``__go_buildinfo`` or ``__DATA``, PE the first initialized read/write section). Go 1.18+
writes the version and module text inline as varint-prefixed strings; older linkers wrote two
pointers to Go string headers, followed here through the file's segments. When the headers
do not say where to look (a stripped or truncated file), every occurrence of the magic is
tried in order and the first that decodes wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cachetrace.errors import BinaryFormatError
from cachetrace.model.outputs import GoBuildInfo, GoModule
from cachetrace.outputs import elf, macho, pe
from cachetrace.outputs._struct import Segment, read_mapped
from cachetrace.outputs.gostring import quoted_prefix, unquote

MAGIC = b"\xff Go buildinf:"
_SEARCH = 64 * 1024
_MAX_STRING = 32 * 1024 * 1024
_FLAG_BIG, _FLAG_INLINE = 0x1, 0x2


@dataclass(frozen=True, slots=True)
class _Layout:
    start: int | None
    segments: tuple[Segment, ...]


def parse_buildinfo(data: bytes) -> GoBuildInfo | None:
    """The Go build info in ``data`` (a whole executable, or a prefix of one), or None.

    Raises BinaryFormatError when the blob sits where the headers say but cannot be decoded.
    """
    layout = _layout(data)
    if layout.start is not None:
        at = _find_aligned(data, layout.start)
        if at is not None:
            return _decode(data, at, layout.segments)
    pos = data.find(MAGIC)
    while pos >= 0:
        try:
            info = _decode(data, pos, layout.segments)
        except BinaryFormatError:
            info = None
        if info is not None:
            return info
        pos = data.find(MAGIC, pos + 1)
    return None


def _layout(data: bytes) -> _Layout:
    try:
        if data[:4] == elf.MAGIC:
            e = elf.parse_elf(data)
            return _Layout(e.buildinfo_offset, e.segments)
        if data[:4] in macho.THIN_MAGICS or macho.is_fat(data):
            m = macho.parse_macho(data)
            return _Layout(m.buildinfo_offset, m.segments)
        if data[:2] == pe.MAGIC:
            p = pe.parse_pe(data)
            return _Layout(p.buildinfo_offset, p.segments)
    except BinaryFormatError:
        pass  # fall back to searching the whole file
    return _Layout(None, ())


def _find_aligned(data: bytes, start: int) -> int | None:
    end = min(len(data), start + _SEARCH)
    pos = data.find(MAGIC, start, end)
    while pos >= 0:
        if (pos - start) % 16 == 0 and pos + 32 <= len(data):
            return pos
        pos = data.find(MAGIC, pos + 1, end)
    return None


def _decode(data: bytes, at: int, segments: tuple[Segment, ...]) -> GoBuildInfo | None:
    if at + 32 > len(data):
        raise BinaryFormatError("Go build info header cut short")
    ptr_size, flags = data[at + 14], data[at + 15]
    if flags & _FLAG_INLINE:
        version, pos = _varint_string(data, at + 32)
        modinfo, _ = _varint_string(data, pos)
        legacy = False
    else:
        if ptr_size not in (4, 8):
            raise BinaryFormatError(f"Go build info pointer size {ptr_size}")
        big = bool(flags & _FLAG_BIG)
        version = _pointer_string(data, at + 16, ptr_size, big, segments)
        modinfo = _pointer_string(data, at + 16 + ptr_size, ptr_size, big, segments)
        legacy = True
    if not version:
        return None
    text = _strip_sentinels(modinfo)
    return parse_modinfo(
        version.decode("utf-8", errors="replace"),
        text.decode("utf-8", errors="replace"),
        legacy_format=legacy,
    )


def _varint_string(data: bytes, pos: int) -> tuple[bytes, int]:
    length, shift = 0, 0
    while True:
        if pos >= len(data):
            raise BinaryFormatError("Go build info string length cut short")
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise BinaryFormatError("Go build info string length overflows")
    if length > _MAX_STRING or pos + length > len(data):
        raise BinaryFormatError(f"Go build info string of {length} bytes past the end")
    return data[pos : pos + length], pos + length


def _pointer_string(
    data: bytes, at: int, ptr_size: int, big: bool, segments: tuple[Segment, ...]
) -> bytes:
    order: Literal["big", "little"] = "big" if big else "little"
    addr = int.from_bytes(data[at : at + ptr_size], order)
    header = read_mapped(data, segments, addr, 2 * ptr_size)
    if header is None:
        # As Go's reader does: an unreadable header is an empty string. GOPATH-mode binaries
        # keep an empty runtime.modinfo in .bss, past the segment's bytes in the file.
        return b""
    ptr = int.from_bytes(header[:ptr_size], order)
    length = int.from_bytes(header[ptr_size:], order)
    if length == 0:
        return b""
    if length > _MAX_STRING:
        raise BinaryFormatError(f"Go build info string of {length} bytes")
    value = read_mapped(data, segments, ptr, length)
    if value is None:
        raise BinaryFormatError(f"Go build info string at 0x{ptr:x} is not in the file")
    return value


def _strip_sentinels(modinfo: bytes) -> bytes:
    # runtime/debug wraps modinfo in 16-byte sentinels; without them it was not module mode.
    if len(modinfo) >= 33 and modinfo[-17] == ord("\n"):
        return modinfo[16:-16]
    return b""


def parse_modinfo(go_version: str, text: str, *, legacy_format: bool = False) -> GoBuildInfo:
    """Parse the module text of build info (``path``/``mod``/``dep``/``=>``/``build`` lines)."""
    path = ""
    main: GoModule | None = None
    deps: list[GoModule] = []
    settings: dict[str, str] = {}
    last: str = ""  # "mod" or "dep": what a "=>" line replaces
    for line in text.split("\n"):
        if not line:
            continue
        kind, _, rest = line.partition("\t")
        if kind == "path":
            path = rest
        elif kind in ("mod", "dep"):
            module = _module(rest, line)
            if kind == "mod":
                main = module
            else:
                deps.append(module)
            last = kind
        elif kind == "=>":
            replacement = _module(rest, line)
            if last == "dep" and deps:
                d = deps[-1]
                deps[-1] = GoModule(d.path, d.version, d.sum, replacement)
            elif last == "mod" and main is not None:
                main = GoModule(main.path, main.version, main.sum, replacement)
            else:
                raise BinaryFormatError("Go build info: replacement without a module")
            last = ""
        elif kind == "build":
            key, value = _setting(rest)
            settings[key] = value
    return GoBuildInfo(go_version, path, main, tuple(deps), settings, legacy_format)


def _module(rest: str, line: str) -> GoModule:
    fields = rest.split("\t")
    if not 1 <= len(fields) <= 3 or not fields[0]:
        raise BinaryFormatError(f"Go build info: bad module line {line[:80]!r}")
    fields += [""] * (3 - len(fields))
    return GoModule(fields[0], fields[1], fields[2])


def _setting(kv: str) -> tuple[str, str]:
    if not kv or kv[0] == "=":
        raise BinaryFormatError(f"Go build info: build line without a key {kv[:80]!r}")
    try:
        raw_key = quoted_prefix(kv)
        if raw_key is None and kv[0] in '"`':
            raise ValueError("unterminated quoted key")
        if raw_key is not None:
            key = unquote(raw_key)
            rest = kv[len(raw_key) :]
            if not rest.startswith("="):
                raise ValueError("no '=' after a quoted key")
            raw_value = rest[1:]
        else:
            key, eq, raw_value = kv.partition("=")
            if not eq:
                raise ValueError("no '='")
        value = unquote(raw_value) if raw_value[:1] in ('"', "`") else raw_value
    except ValueError as exc:
        raise BinaryFormatError(f"Go build info: bad build line {kv[:80]!r}: {exc}") from None
    return key, value
