"""PE (Windows) headers: machine as a GOARCH name, subsystem, and where Go's build info lives."""

from __future__ import annotations

from dataclasses import dataclass

from cachetrace.errors import BinaryFormatError
from cachetrace.outputs._struct import Segment, View

MAGIC = b"MZ"

# IMAGE_FILE_MACHINE_* -> (name, GOARCH)
_MACHINES = {
    0x014C: ("IMAGE_FILE_MACHINE_I386", "386"),
    0x8664: ("IMAGE_FILE_MACHINE_AMD64", "amd64"),
    0x01C0: ("IMAGE_FILE_MACHINE_ARM", "arm"),
    0x01C4: ("IMAGE_FILE_MACHINE_ARMNT", "arm"),
    0xAA64: ("IMAGE_FILE_MACHINE_ARM64", "arm64"),
    0x5064: ("IMAGE_FILE_MACHINE_RISCV64", "riscv64"),
    0x6264: ("IMAGE_FILE_MACHINE_LOONGARCH64", "loong64"),
    0x0200: ("IMAGE_FILE_MACHINE_IA64", "ia64"),
    0x0000: ("IMAGE_FILE_MACHINE_UNKNOWN", "unknown(0)"),
}

SUBSYSTEMS = {
    1: "native",
    2: "windows-gui",
    3: "windows-cui",
    5: "os2-cui",
    7: "posix-cui",
    9: "windows-ce-gui",
    10: "efi-application",
    11: "efi-boot-service-driver",
    12: "efi-runtime-driver",
    13: "efi-rom",
    14: "xbox",
    16: "windows-boot-application",
}

_SCN_INITIALIZED_DATA = 0x40
_SCN_EXECUTE = 0x20000000
_SCN_READ = 0x40000000
_SCN_WRITE = 0x80000000
_MAX_SECTIONS = 96  # the PE/COFF limit


@dataclass(frozen=True, slots=True)
class PeFile:
    machine: str
    arch: str
    bits: int
    subsystem: str
    segments: tuple[Segment, ...]
    buildinfo_offset: int | None


def parse_pe(data: bytes) -> PeFile:
    """Parse the DOS stub, PE signature, COFF and optional headers and the section table."""
    if len(data) < 64 or data[:2] != MAGIC:
        raise BinaryFormatError("not a PE file")
    v = View(data, big=False, kind="PE")
    pe_off = v.u32(0x3C)
    if not v.has(pe_off, 24) or data[pe_off : pe_off + 4] != b"PE\0\0":
        raise v.fail("no PE signature (an MS-DOS program?)")
    coff = pe_off + 4
    machine_num = v.u16(coff)
    nsections = v.u16(coff + 2)
    opt_size = v.u16(coff + 16)
    machine, arch = _MACHINES.get(machine_num, (f"0x{machine_num:04x}", f"unknown({machine_num})"))
    opt = coff + 20
    bits, subsystem, image_base = 0, "", 0
    if opt_size >= 2:
        magic = v.u16(opt)
        if magic == 0x20B:
            bits, image_base = 64, v.u64(opt + 24) if opt_size >= 32 else 0
        elif magic == 0x10B:
            bits, image_base = 32, v.u32(opt + 28) if opt_size >= 32 else 0
        else:
            raise v.fail(f"optional header magic 0x{magic:x}")
        if opt_size >= 70:
            num = v.u16(opt + 68)
            subsystem = SUBSYSTEMS.get(num, str(num))
    if nsections > _MAX_SECTIONS:
        raise v.fail(f"{nsections} sections")
    segments: list[Segment] = []
    buildinfo_offset: int | None = None
    table = opt + opt_size
    for i in range(nsections):
        base = table + 40 * i
        if not v.has(base, 40):
            break
        vsize, vaddr = v.u32(base + 8), v.u32(base + 12)
        raw_size, raw_ptr = v.u32(base + 16), v.u32(base + 20)
        flags = v.u32(base + 36)
        segments.append(Segment(image_base + vaddr, raw_ptr, min(vsize or raw_size, raw_size)))
        wanted = _SCN_INITIALIZED_DATA | _SCN_READ | _SCN_WRITE
        if (
            buildinfo_offset is None
            and vaddr
            and raw_size
            and flags & wanted == wanted
            and not flags & _SCN_EXECUTE
        ):
            buildinfo_offset = raw_ptr
    return PeFile(machine, arch, bits, subsystem, tuple(segments), buildinfo_offset)
