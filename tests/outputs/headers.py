"""Minimal PE and Mach-O files for unit and fuzz tests (real ones come from the engine tests)."""

from __future__ import annotations

import struct


def minimal_pe(machine: int = 0xAA64, subsystem: int = 3, *, pe32_plus: bool = True) -> bytes:
    """MZ stub, PE signature, COFF header, optional header and one .data section."""
    opt_size = 240 if pe32_plus else 224
    dos = bytearray(b"MZ" + bytes(62))
    struct.pack_into("<I", dos, 0x3C, 64)
    coff = struct.pack("<HHIIIHH", machine, 1, 0, 0, 0, opt_size, 0x22)
    opt = bytearray(opt_size)
    struct.pack_into("<H", opt, 0, 0x20B if pe32_plus else 0x10B)
    if pe32_plus:
        struct.pack_into("<Q", opt, 24, 0x140000000)
    else:
        struct.pack_into("<I", opt, 28, 0x400000)
    struct.pack_into("<H", opt, 68, subsystem)
    section = struct.pack(
        "<8sIIIIIIHHI", b".data", 0x200, 0x1000, 0x200, 0x400, 0, 0, 0, 0, 0xC0000040
    )
    out = bytearray(dos + b"PE\0\0" + coff + opt + section)
    out += bytes(0x400 - len(out)) + b"\xab" * 0x200
    return bytes(out)


def minimal_macho(cputype: int = 0x0100000C, *, dylib: str = "/usr/lib/libSystem.B.dylib") -> bytes:
    """A little-endian 64-bit MH_EXECUTE with LC_LOAD_DYLINKER and one LC_LOAD_DYLIB."""

    def padded(cmd: int, fixed: bytes, text: str) -> bytes:
        name = text.encode() + b"\0"
        size = (8 + len(fixed) + len(name) + 7) // 8 * 8
        body = struct.pack("<II", cmd, size) + fixed + name
        return body + bytes(size - len(body))

    dylinker = padded(0xE, struct.pack("<I", 12), "/usr/lib/dyld")
    lib = padded(0xC, struct.pack("<IIII", 24, 0, 0x10000, 0x10000), dylib)
    cmds = dylinker + lib
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, cputype, 0, 2, 2, len(cmds), 0x200085, 0)
    return header + cmds
