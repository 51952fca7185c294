"""ELF files carrying Go build info in the pre-1.18 pointer format, for tests.

Go 1.24 (the engine's toolchain) writes only the inline format, so the pointer format is
exercised on files laid out here the way Go 1.13-1.17 linkers did: a writable PT_LOAD whose
start holds the 32-byte header with two addresses of Go string headers (pointer, length),
each pointing at the version and modinfo bytes in the same segment. ``go version -m`` of the
engine's Go reads these files too, which checks the layout against Go itself.
"""

from __future__ import annotations

import struct

SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")


def legacy_elf(
    version: str, modinfo: str, *, big: bool = False, bits: int = 64, bss: bool = False
) -> bytes:
    """An ET_EXEC ELF (EM_X86_64 little-endian 64-bit, or EM_PPC big-endian 32-bit).

    ``bss``: the modinfo string header lies in the segment's zero-filled tail (memsz past
    filesz), as in GOPATH-mode binaries, so no file bytes back it.
    """
    e = ">" if big else "<"
    ptr = 8 if bits == 64 else 4
    word = "Q" if bits == 64 else "I"
    seg_off, vaddr = 0x1000, 0x401000
    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END if modinfo else b""
    ver = version.encode()
    hdr_v, hdr_m = 32, 32 + 2 * ptr  # string headers after the 32-byte blob header
    ver_at = 32 + 4 * ptr
    mod_at = ver_at + len(ver)
    data = bytearray(b"\xff Go buildinf:" + bytes([ptr, 1 if big else 0]))
    data += struct.pack(e + word * 2, vaddr + hdr_v, vaddr + hdr_m)
    data += bytes(32 - len(data))
    data += struct.pack(e + word * 2, vaddr + ver_at, len(ver))
    data += struct.pack(e + word * 2, vaddr + mod_at, len(mod))
    data += ver + mod
    memsz = len(data)
    if bss:
        memsz = len(data) + 4096
        struct.pack_into(e + word, data, 16 + ptr, vaddr + len(data) + 64)
    machine = 62 if not big else 20
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big else 1, 1, 0]) + bytes(8)
    if bits == 64:
        header = ident + struct.pack(
            e + "HHIQQQIHHHHHH", 2, machine, 1, vaddr, 64, 0, 0, 64, 56, 1, 64, 0, 0
        )
        size = len(data)
        phdr = struct.pack(e + "IIQQQQQQ", 1, 6, seg_off, vaddr, vaddr, size, memsz, 0x1000)
    else:
        header = ident + struct.pack(
            e + "HHIIIIIHHHHHH", 2, machine, 1, vaddr, 52, 0, 0, 52, 32, 1, 40, 0, 0
        )
        size = len(data)
        phdr = struct.pack(e + "IIIIIIII", 1, seg_off, vaddr, vaddr, size, memsz, 6, 0x1000)
    out = bytearray(header + phdr)
    out += bytes(seg_off - len(out))
    out += data
    return bytes(out)
