"""Mach-O headers (thin and fat): CPU type as a GOARCH name, dylibs, Go build info location."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cachetrace.errors import BinaryFormatError
from cachetrace.outputs._struct import Segment, View

# The first four bytes as they appear in the file.
THIN_MAGICS = {
    b"\xfe\xed\xfa\xce": (32, True),
    b"\xce\xfa\xed\xfe": (32, False),
    b"\xfe\xed\xfa\xcf": (64, True),
    b"\xcf\xfa\xed\xfe": (64, False),
}
FAT_MAGIC = b"\xca\xfe\xba\xbe"  # also Java class files: told apart by the slice count

_ABI64 = 0x01000000
_ABI64_32 = 0x02000000
# CPU_TYPE_* -> (name, GOARCH)
_CPUS = {
    7: ("CPU_TYPE_X86", "386"),
    7 | _ABI64: ("CPU_TYPE_X86_64", "amd64"),
    12: ("CPU_TYPE_ARM", "arm"),
    12 | _ABI64: ("CPU_TYPE_ARM64", "arm64"),
    12 | _ABI64_32: ("CPU_TYPE_ARM64_32", "arm64_32"),
    18: ("CPU_TYPE_POWERPC", "ppc"),
    18 | _ABI64: ("CPU_TYPE_POWERPC64", "ppc64"),
}
FILE_TYPES = {1: "OBJECT", 2: "EXECUTE", 6: "DYLIB", 7: "DYLINKER", 8: "BUNDLE"}

_LC_SEGMENT, _LC_SEGMENT_64 = 0x1, 0x19
_LC_LOAD_DYLIB, _LC_LOAD_WEAK_DYLIB, _LC_REEXPORT_DYLIB = 0xC, 0x80000018, 0x8000001F
_LC_LOAD_DYLINKER = 0xE
_MAX_CMDS = 65536
_MAX_FAT = 32


@dataclass(frozen=True, slots=True)
class MachOFile:
    machine: str
    arch: str  # comma-joined for a fat file (``amd64,arm64``)
    bits: int
    big_endian: bool
    file_type: str
    dylinker: str | None
    dylibs: tuple[str, ...]
    segments: tuple[Segment, ...]
    buildinfo_offset: int | None


def is_fat(data: bytes) -> bool:
    """A fat (universal) header rather than a Java class file: a small slice count."""
    if data[:4] != FAT_MAGIC or len(data) < 8:
        return False
    count: int = struct.unpack(">I", data[4:8])[0]
    return 0 < count <= _MAX_FAT


def cpu_names(cputype: int) -> tuple[str, str]:
    return _CPUS.get(cputype, (f"CPU_TYPE_{cputype}", f"unknown({cputype})"))


def parse_macho(data: bytes) -> MachOFile:
    """Parse a thin Mach-O, or the first slice of a fat one (listing every slice's arch)."""
    if is_fat(data):
        v = View(data, big=True, kind="Mach-O fat file")
        count = v.u32(4)
        arches, first = [], None
        for i in range(count):
            base = 8 + 20 * i
            cputype, offset, size = v.u32(base), v.u32(base + 8), v.u32(base + 12)
            arches.append(cpu_names(cputype)[1])
            if first is None:
                first = (offset, size)
        assert first is not None
        offset, size = first
        if not v.has(offset, 32):
            raise v.fail(f"slice at offset {offset} past the end")
        thin = _parse_thin(data[offset : offset + size])
        return MachOFile(
            thin.machine,
            ",".join(arches),
            thin.bits,
            thin.big_endian,
            thin.file_type,
            thin.dylinker,
            thin.dylibs,
            tuple(Segment(s.vaddr, s.offset + offset, s.size) for s in thin.segments),
            None if thin.buildinfo_offset is None else thin.buildinfo_offset + offset,
        )
    return _parse_thin(data)


def _parse_thin(data: bytes) -> MachOFile:
    kind = THIN_MAGICS.get(data[:4])
    if kind is None:
        raise BinaryFormatError("not a Mach-O file")
    bits, big = kind
    v = View(data, big=big, kind="Mach-O")
    cputype, filetype, ncmds, sizeofcmds = v.u32(4), v.u32(12), v.u32(16), v.u32(20)
    machine, arch = cpu_names(cputype)
    if ncmds > _MAX_CMDS:
        raise v.fail(f"{ncmds} load commands")
    pos = 32 if bits == 64 else 28
    end = pos + sizeofcmds
    segments: list[Segment] = []
    dylibs: list[str] = []
    dylinker: str | None = None
    buildinfo: int | None = None
    data_segment: int | None = None
    for _ in range(ncmds):
        if pos + 8 > end or not v.has(pos, 8):
            break
        cmd, cmdsize = v.u32(pos), v.u32(pos + 4)
        if cmdsize < 8:
            raise v.fail(f"load command size {cmdsize} at offset {pos}")
        if cmd in (_LC_SEGMENT, _LC_SEGMENT_64) and v.has(pos, 56):
            seg_name = data[pos + 8 : pos + 24].rstrip(b"\0")
            is64 = cmd == _LC_SEGMENT_64
            if is64:
                fileoff, nsects = v.u64(pos + 40), v.u32(pos + 64)
                sect_base, sect_size = pos + 72, 80
            else:
                fileoff, nsects = v.u32(pos + 32), v.u32(pos + 48)
                sect_base, sect_size = pos + 56, 68
            if seg_name == b"__DATA" and data_segment is None:
                data_segment = fileoff
            for j in range(min(nsects, (cmdsize // sect_size) + 1)):
                sb = sect_base + j * sect_size
                if sb + sect_size > pos + cmdsize or not v.has(sb, sect_size):
                    break
                sect_name = data[sb : sb + 16].rstrip(b"\0")
                if is64:
                    addr, size, offset = v.u64(sb + 32), v.u64(sb + 40), v.u32(sb + 48)
                else:
                    addr, size, offset = v.u32(sb + 32), v.u32(sb + 36), v.u32(sb + 40)
                if offset:
                    segments.append(Segment(addr, offset, size))
                if sect_name == b"__go_buildinfo":
                    buildinfo = offset
        elif cmd in (_LC_LOAD_DYLIB, _LC_LOAD_WEAK_DYLIB, _LC_REEXPORT_DYLIB) and v.has(pos, 12):
            name_off = v.u32(pos + 8)
            if name_off < cmdsize:
                dylibs.append(v.cstr(pos + name_off, cmdsize - name_off))
        elif cmd == _LC_LOAD_DYLINKER and v.has(pos, 12):
            name_off = v.u32(pos + 8)
            if name_off < cmdsize:
                dylinker = v.cstr(pos + name_off, cmdsize - name_off)
        pos += cmdsize
    return MachOFile(
        machine=machine,
        arch=arch,
        bits=bits,
        big_endian=big,
        file_type=FILE_TYPES.get(filetype, str(filetype)),
        dylinker=dylinker,
        dylibs=tuple(dylibs),
        segments=tuple(segments),
        buildinfo_offset=buildinfo if buildinfo is not None else data_segment,
    )
