"""Bounds-checked reads from the bytes of an executable; every failure is a BinaryFormatError."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cachetrace.errors import BinaryFormatError


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the file mapped at a virtual address (ELF PT_LOAD, PE or Mach-O section)."""

    vaddr: int
    offset: int
    size: int


class View:
    """Little- or big-endian integer and string reads at file offsets, never past the end."""

    __slots__ = ("big", "data", "kind")

    def __init__(self, data: bytes, *, big: bool, kind: str) -> None:
        self.data = data
        self.big = big
        self.kind = kind

    def fail(self, what: str) -> BinaryFormatError:
        return BinaryFormatError(f"corrupt {self.kind}: {what}")

    def _unpack(self, fmt: str, offset: int, size: int) -> int:
        if offset < 0 or offset + size > len(self.data):
            raise self.fail(f"read of {size} bytes at {offset} past the end ({len(self.data)})")
        value: int = struct.unpack_from((">" if self.big else "<") + fmt, self.data, offset)[0]
        return value

    def u8(self, offset: int) -> int:
        return self._unpack("B", offset, 1)

    def u16(self, offset: int) -> int:
        return self._unpack("H", offset, 2)

    def u32(self, offset: int) -> int:
        return self._unpack("I", offset, 4)

    def u64(self, offset: int) -> int:
        return self._unpack("Q", offset, 8)

    def word(self, offset: int, size: int) -> int:
        return self.u64(offset) if size == 8 else self.u32(offset)

    def has(self, offset: int, size: int) -> bool:
        return offset >= 0 and size >= 0 and offset + size <= len(self.data)

    def cstr(self, offset: int, limit: int = 4096) -> str:
        """A NUL-terminated string starting at ``offset`` (at most ``limit`` bytes)."""
        if not self.has(offset, 1):
            raise self.fail(f"string at offset {offset} past the end")
        end = self.data.find(b"\0", offset, offset + limit)
        if end < 0:
            end = min(len(self.data), offset + limit)
        return self.data[offset:end].decode("utf-8", errors="replace")


def read_mapped(data: bytes, segments: tuple[Segment, ...], vaddr: int, size: int) -> bytes | None:
    """The ``size`` bytes that the file maps at ``vaddr``, or None if no segment holds them."""
    for seg in segments:
        if seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.size:
            start = seg.offset + (vaddr - seg.vaddr)
            if start < 0 or start + size > len(data):
                return None
            return data[start : start + size]
    return None
