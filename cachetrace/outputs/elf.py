"""ELF headers: class, byte order, machine as a GOARCH name, OS ABI, interpreter, DT_NEEDED.

Reads only what "which OS and architecture, static or dynamic, against which loader" needs,
plus where Go's build info lives. Works on a prefix of a file (the layer reader may keep only
the first part of a huge binary): facts stored past the end come back as None.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetrace.errors import BinaryFormatError
from cachetrace.outputs._struct import Segment, View

MAGIC = b"\x7fELF"

_PT_LOAD, _PT_DYNAMIC, _PT_INTERP, _PT_NOTE = 1, 2, 3, 4
_SHT_SYMTAB, _SHT_NOTE = 2, 7
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_FLAGS_1 = 0, 1, 5, 0x6FFFFFFB
_DF_1_PIE = 0x08000000
_PF_X, _PF_W = 1, 2
_MAX_PH = 4096
_MAX_SH = 65536
_MAX_DYN = 100_000

ELF_TYPES = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}

OSABI = {
    0: "SYSV",
    1: "HPUX",
    2: "NETBSD",
    3: "LINUX",
    6: "SOLARIS",
    7: "AIX",
    8: "IRIX",
    9: "FREEBSD",
    12: "OPENBSD",
    13: "OPENVMS",
    97: "ARM",
    255: "STANDALONE",
}
# OS ABI value -> GOOS, where the ABI names one.
_OSABI_GOOS = {2: "netbsd", 3: "linux", 6: "solaris", 7: "aix", 9: "freebsd", 12: "openbsd"}
# NT_GNU_ABI_TAG os field -> GOOS.
_ABI_TAG_GOOS = {0: "linux", 1: "hurd", 2: "solaris", 3: "freebsd", 4: "netbsd"}

# e_machine -> (name, GOARCH for 32-bit little, 32-bit big, 64-bit little, 64-bit big)
_MACHINES: dict[int, tuple[str, str, str, str, str]] = {
    3: ("EM_386", "386", "386", "386", "386"),
    8: ("EM_MIPS", "mipsle", "mips", "mips64le", "mips64"),
    20: ("EM_PPC", "ppc", "ppc", "ppc64le", "ppc64"),
    21: ("EM_PPC64", "ppc64le", "ppc64", "ppc64le", "ppc64"),
    22: ("EM_S390", "s390", "s390", "s390x", "s390x"),
    40: ("EM_ARM", "arm", "armbe", "arm", "armbe"),
    62: ("EM_X86_64", "amd64p32", "amd64p32", "amd64", "amd64"),
    183: ("EM_AARCH64", "arm64", "arm64be", "arm64", "arm64be"),
    243: ("EM_RISCV", "riscv", "riscv", "riscv64", "riscv64"),
    247: ("EM_BPF", "bpf", "bpf", "bpf", "bpf"),
    258: ("EM_LOONGARCH", "loong32", "loong32", "loong64", "loong64"),
    2: ("EM_SPARC", "sparc", "sparc", "sparc64", "sparc64"),
    43: ("EM_SPARCV9", "sparc64", "sparc64", "sparc64", "sparc64"),
    50: ("EM_IA_64", "ia64", "ia64", "ia64", "ia64"),
}


def machine_names(e_machine: int, bits: int, big: bool) -> tuple[str, str]:
    """(``EM_*`` name, GOARCH) for an ELF machine number."""
    row = _MACHINES.get(e_machine)
    if row is None:
        return f"EM_{e_machine}", f"unknown({e_machine})"
    index = (2 if bits == 64 else 0) + (1 if big else 0)
    return row[0], row[1 + index]


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class ElfFile:
    bits: int
    big_endian: bool
    osabi: str
    elf_type: str
    machine: str
    arch: str
    os: str
    interpreter: str | None
    needed: tuple[str, ...] | None  # None when the dynamic section lies past the data read
    has_dynamic: bool
    static_pie: bool  # PT_DYNAMIC with DF_1_PIE and no interpreter: loads itself
    stripped: bool | None  # None when the section headers lie past the data read
    segments: tuple[Segment, ...]
    sections: tuple[Section, ...]
    buildinfo_offset: int | None  # where to search for Go build info (section or data segment)


def parse_elf(data: bytes) -> ElfFile:
    """Parse an ELF header and its program and section headers. Raises BinaryFormatError."""
    if len(data) < 16 or data[:4] != MAGIC:
        raise BinaryFormatError("not an ELF file")
    ei_class, ei_data, osabi_num = data[4], data[5], data[7]
    if ei_class not in (1, 2):
        raise BinaryFormatError(f"corrupt ELF: class {ei_class}")
    if ei_data not in (1, 2):
        raise BinaryFormatError(f"corrupt ELF: data encoding {ei_data}")
    bits = 64 if ei_class == 2 else 32
    v = View(data, big=ei_data == 2, kind="ELF")
    w = 8 if bits == 64 else 4
    e_type = v.u16(16)
    e_machine = v.u16(18)
    if bits == 64:
        e_phoff, e_shoff = v.u64(32), v.u64(40)
        e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = (
            v.u16(54),
            v.u16(56),
            v.u16(58),
            v.u16(60),
            v.u16(62),
        )
    else:
        e_phoff, e_shoff = v.u32(28), v.u32(32)
        e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = (
            v.u16(42),
            v.u16(44),
            v.u16(46),
            v.u16(48),
            v.u16(50),
        )
    machine, arch = machine_names(e_machine, bits, v.big)

    progs = _programs(v, bits, e_phoff, e_phentsize, e_phnum)
    segments, interp, dynamic = progs.segments, progs.interp, progs.dynamic
    sections = _sections(v, bits, e_shoff, e_shentsize, e_shnum, shstrndx=e_shstrndx)
    needed, flags_1 = _dynamic(v, w, dynamic, segments) if dynamic else ((), 0)
    stripped: bool | None
    if not e_shoff or not e_shnum:
        stripped = True
    elif sections is None:
        stripped = None
    else:
        stripped = not any(s.type == _SHT_SYMTAB for s in sections)

    buildinfo_offset = progs.first_data_load
    for s in sections or ():
        if s.name == ".go.buildinfo":
            buildinfo_offset = s.offset
            break

    os_name = _OSABI_GOOS.get(osabi_num, "")
    if not os_name:
        os_name = _os_from_notes(v, progs.notes)
    if not os_name and interp and ("ld-linux" in interp or "ld-musl" in interp):
        os_name = "linux"
    if not os_name and sections and any(s.name == ".note.android.ident" for s in sections):
        os_name = "android"

    return ElfFile(
        bits=bits,
        big_endian=v.big,
        osabi=OSABI.get(osabi_num, str(osabi_num)),
        elf_type=ELF_TYPES.get(e_type, str(e_type)),
        machine=machine,
        arch=arch,
        os=os_name,
        interpreter=interp,
        needed=needed,
        has_dynamic=dynamic is not None,
        static_pie=dynamic is not None and interp is None and bool(flags_1 & _DF_1_PIE),
        stripped=stripped,
        segments=segments,
        sections=sections or (),
        buildinfo_offset=buildinfo_offset,
    )


@dataclass(frozen=True, slots=True)
class _Programs:
    segments: tuple[Segment, ...]  # PT_LOAD
    interp: str | None  # "" when PT_INTERP is present but its text lies past the data read
    dynamic: tuple[int, int] | None  # PT_DYNAMIC (offset, size)
    first_data_load: int | None  # offset of the first writable, non-executable PT_LOAD
    notes: tuple[tuple[int, int], ...]  # PT_NOTE (offset, size)


def _programs(v: View, bits: int, phoff: int, phentsize: int, phnum: int) -> _Programs:
    segments: list[Segment] = []
    interp: str | None = None
    dynamic: tuple[int, int] | None = None
    first_data_load: int | None = None
    notes: list[tuple[int, int]] = []
    phsize = 56 if bits == 64 else 32
    if phnum and phoff and (phentsize < phsize or phnum > _MAX_PH):
        raise v.fail(f"program header size {phentsize} x {phnum}")
    for i in range(phnum if phoff else 0):
        base = phoff + i * phentsize
        if not v.has(base, phsize):
            break  # the rest lies past the data we have
        p_type = v.u32(base)
        if bits == 64:
            p_flags, p_offset = v.u32(base + 4), v.u64(base + 8)
            p_vaddr, p_filesz = v.u64(base + 16), v.u64(base + 32)
        else:
            p_offset, p_vaddr = v.u32(base + 4), v.u32(base + 8)
            p_filesz, p_flags = v.u32(base + 16), v.u32(base + 24)
        if p_type == _PT_LOAD:
            segments.append(Segment(p_vaddr, p_offset, p_filesz))
            if first_data_load is None and p_flags & _PF_W and not p_flags & _PF_X:
                first_data_load = p_offset
        elif p_type == _PT_INTERP:
            # empty when its bytes are not in the file (separate debug files have p_filesz 0)
            readable = p_filesz > 0 and v.has(p_offset, 1)
            interp = v.cstr(p_offset, min(p_filesz, 4096)) if readable else ""
        elif p_type == _PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
        elif p_type == _PT_NOTE:
            notes.append((p_offset, p_filesz))
    return _Programs(tuple(segments), interp, dynamic, first_data_load, tuple(notes))


def _sections(
    v: View, bits: int, shoff: int, shentsize: int, shnum: int, *, shstrndx: int
) -> tuple[Section, ...] | None:
    shsize = 64 if bits == 64 else 40
    if not shoff or not shnum:
        return ()
    if shentsize < shsize or shnum > _MAX_SH:
        raise v.fail(f"section header size {shentsize} x {shnum}")
    if not v.has(shoff, shnum * shentsize):
        return None
    raw: list[tuple[int, int, int, int, int]] = []
    for i in range(shnum):
        base = shoff + i * shentsize
        name_off, kind = v.u32(base), v.u32(base + 4)
        if bits == 64:
            raw.append((name_off, kind, v.u64(base + 16), v.u64(base + 24), v.u64(base + 32)))
        else:
            raw.append((name_off, kind, v.u32(base + 12), v.u32(base + 16), v.u32(base + 20)))
    strtab: tuple[int, int] | None = None
    if shstrndx < len(raw):
        strtab = (raw[shstrndx][3], raw[shstrndx][4])
    out: list[Section] = []
    for name_off, sh_type, addr, offset, size in raw:
        name = ""
        if strtab is not None and name_off < strtab[1] and v.has(strtab[0] + name_off, 1):
            name = v.cstr(strtab[0] + name_off, min(256, strtab[1] - name_off))
        out.append(Section(name, sh_type, addr, offset, size))
    return tuple(out)


def _dynamic(
    v: View, w: int, dynamic: tuple[int, int], segments: tuple[Segment, ...]
) -> tuple[tuple[str, ...] | None, int]:
    """(DT_NEEDED names, DT_FLAGS_1); names are None when they lie past the data read."""
    offset, size = dynamic
    if not v.has(offset, min(size, 2 * w)):
        return None, 0
    count = min(size // (2 * w), _MAX_DYN)
    needed_offsets: list[int] = []
    strtab_addr: int | None = None
    flags_1 = 0
    for i in range(count):
        base = offset + i * 2 * w
        if not v.has(base, 2 * w):
            return None, flags_1
        tag, val = v.word(base, w), v.word(base + w, w)
        if tag == _DT_NULL:
            break
        if tag == _DT_NEEDED:
            needed_offsets.append(val)
        elif tag == _DT_STRTAB:
            strtab_addr = val
        elif tag == _DT_FLAGS_1:
            flags_1 = val
    if not needed_offsets:
        return (), flags_1
    if strtab_addr is None:
        raise v.fail("DT_NEEDED without DT_STRTAB")
    strtab_off = _to_offset(strtab_addr, segments)
    if strtab_off is None:
        return None, flags_1
    names = []
    for off in needed_offsets:
        if not v.has(strtab_off + off, 1):
            return None, flags_1
        names.append(v.cstr(strtab_off + off, 4096))
    return tuple(names), flags_1


def _to_offset(vaddr: int, segments: tuple[Segment, ...]) -> int | None:
    for seg in segments:
        if seg.vaddr <= vaddr < seg.vaddr + seg.size:
            return seg.offset + (vaddr - seg.vaddr)
    return None


def _os_from_notes(v: View, notes: tuple[tuple[int, int], ...]) -> str:
    """GOOS from an NT_GNU_ABI_TAG note (glibc binaries carry one; Go binaries do not)."""
    for offset, size in notes:
        pos, end = offset, offset + min(size, 65536)
        while pos + 12 <= end and v.has(pos, 12):
            namesz, descsz, ntype = v.u32(pos), v.u32(pos + 4), v.u32(pos + 8)
            name_end = pos + 12 + ((namesz + 3) & ~3)
            desc_end = name_end + ((descsz + 3) & ~3)
            if desc_end > end or desc_end <= pos:
                break
            name = v.data[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
            if name == b"GNU" and ntype == 1 and descsz >= 4:
                return _ABI_TAG_GOOS.get(v.u32(name_end), "")
            pos = desc_end
    return ""
