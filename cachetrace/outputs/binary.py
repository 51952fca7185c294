"""Executable facts (ELF, PE, Mach-O) plus Go build info, as one ``BinaryInfo``."""

from __future__ import annotations

from cachetrace.errors import BinaryFormatError
from cachetrace.model.outputs import BinaryInfo, ExecutableFormat, GoBuildInfo
from cachetrace.outputs import elf, macho, pe
from cachetrace.outputs.buildinfo import parse_buildinfo

# How many leading bytes ``is_executable`` needs.
MAGIC_LEN = 8


def executable_format(head: bytes) -> ExecutableFormat | None:
    """The format that the first bytes of a file announce, or None."""
    if head[:4] == elf.MAGIC:
        return ExecutableFormat.ELF
    if head[:4] in macho.THIN_MAGICS or macho.is_fat(head):
        return ExecutableFormat.MACHO
    if head[:2] == pe.MAGIC:
        return ExecutableFormat.PE
    return None


def inspect_binary(data: bytes, path: str = "", *, size: int | None = None) -> BinaryInfo | None:
    """Facts about an executable, or None if ``data`` does not start with an executable magic.

    ``data`` may be a prefix of the file; then pass the whole file's ``size`` and the result is
    marked ``truncated``. Raises BinaryFormatError for a corrupt header. A Go build info blob
    that cannot be decoded is left out (``go`` is None) rather than failing the whole binary.
    """
    fmt = executable_format(data[:MAGIC_LEN])
    if fmt is None:
        return None
    total = len(data) if size is None else max(size, len(data))
    truncated = total > len(data)
    try:
        go: GoBuildInfo | None = parse_buildinfo(data)
    except BinaryFormatError:
        go = None
    goos = go.goos if go is not None else ""
    if fmt is ExecutableFormat.ELF:
        e = elf.parse_elf(data)
        needed = e.needed if e.needed is not None else ()
        # static: runs with no loader. An interpreter or DT_NEEDED says dynamic; no PT_DYNAMIC,
        # or a static PIE (DF_1_PIE, no interpreter), says static. A PT_DYNAMIC with neither
        # (ld.so itself, a preload object with no dependencies) is a shared object: None.
        static: bool | None
        if e.elf_type not in ("EXEC", "DYN"):
            static = None  # objects and core files are not linked programs
        elif e.interpreter is not None or needed:
            static = False
        elif e.has_dynamic:
            static = True if e.static_pie else None
        else:
            static = True
        return BinaryInfo(
            path=path,
            format=fmt,
            arch=e.arch,
            bits=e.bits,
            big_endian=e.big_endian,
            machine=e.machine,
            os=e.os or goos,
            size=total,
            elf_type=e.elf_type,
            osabi=e.osabi,
            interpreter=e.interpreter,
            needed=needed,
            static=static,
            stripped=e.stripped,
            go=go,
            truncated=truncated,
        )
    if fmt is ExecutableFormat.PE:
        p = pe.parse_pe(data)
        return BinaryInfo(
            path=path,
            format=fmt,
            arch=p.arch,
            bits=p.bits,
            big_endian=False,
            machine=p.machine,
            os=goos or ("uefi" if p.subsystem.startswith("efi") else "windows"),
            size=total,
            subsystem=p.subsystem,
            go=go,
            truncated=truncated,
        )
    m = macho.parse_macho(data)
    return BinaryInfo(
        path=path,
        format=fmt,
        arch=m.arch,
        bits=m.bits,
        big_endian=m.big_endian,
        machine=m.machine,
        os=goos or "darwin",
        size=total,
        elf_type=m.file_type,
        interpreter=m.dylinker,
        needed=m.dylibs,
        static=(m.dylinker is None and not m.dylibs) if m.file_type == "EXECUTE" else None,
        go=go,
        truncated=truncated,
    )
