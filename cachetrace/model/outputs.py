"""What a layer really holds: file entries, executables and their Go build info.

Filled by ``cachetrace.outputs`` from layer blobs and binaries; read by the analysis rules
(e.g. "a linux/arm64 step produced an x86-64 binary", "the interpreter this binary needs is
not in the image"). Paths are absolute and cleaned (``/usr/bin/go``; the root is ``/``).
Digests are ``sha256:<hex>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class FileType(str, Enum):
    """What one layer member is. Whiteouts are OCI/AUFS ``.wh.`` markers, already decoded."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR_DEVICE = "char"
    BLOCK_DEVICE = "block"
    FIFO = "fifo"
    WHITEOUT = "whiteout"  # ``path`` is the removed path (the marker was ``dir/.wh.name``)
    OPAQUE_WHITEOUT = "opaque"  # ``path`` is the directory whose lower contents are hidden


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One member of a layer tar.

    ``mode`` holds only the permission bits (``0o7777``); ``size`` and ``sha256`` are those of
    the member's content (regular files; a hard link carries its target's when the target
    came earlier in the same layer; ``sha256`` is None for everything else).
    ``link_target`` is the symlink text or, for hard links, the absolute path linked to.
    ``xattrs`` maps extended attribute names to the hex of their values (PAX ``SCHILY.xattr``).
    """

    path: str
    type: FileType
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    sha256: str | None = None
    link_target: str = ""
    mtime: float = 0.0
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


class ExecutableFormat(str, Enum):
    ELF = "elf"
    PE = "pe"
    MACHO = "macho"


@dataclass(frozen=True, slots=True)
class GoModule:
    """A module line of Go build info (``mod``/``dep``), with its ``=>`` replacement."""

    path: str
    version: str = ""
    sum: str = ""
    replace: GoModule | None = None


_ARCH_LEVEL_KEYS = (
    "GOAMD64",
    "GOARM64",
    "GOARM",
    "GO386",
    "GOMIPS",
    "GOMIPS64",
    "GOPPC64",
    "GORISCV64",
    "GOWASM",
)


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    """What ``go version -m`` prints: the toolchain, main package and module, deps, settings.

    ``settings`` keeps the ``build`` lines in their order (``GOOS``, ``GOARCH``,
    ``CGO_ENABLED``, ``-ldflags``, ``-tags``, ``-trimpath``, ``vcs.revision``, …).
    ``legacy_format`` is True for the pointer format written by Go before 1.18.
    """

    go_version: str
    path: str = ""
    main: GoModule | None = None
    deps: tuple[GoModule, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)
    legacy_format: bool = False

    @property
    def goos(self) -> str:
        return self.settings.get("GOOS", "")

    @property
    def goarch(self) -> str:
        return self.settings.get("GOARCH", "")

    @property
    def cgo_enabled(self) -> bool | None:
        value = self.settings.get("CGO_ENABLED")
        return None if value is None else value == "1"

    @property
    def arch_level(self) -> str:
        """The value of the one arch-level variable (``GOAMD64=v1``, ``GOARM64=v8.0``…)."""
        for key in _ARCH_LEVEL_KEYS:
            if key in self.settings:
                return f"{key}={self.settings[key]}"
        return ""


@dataclass(frozen=True, slots=True)
class BinaryInfo:
    """The facts of one executable, enough to say which OS and architecture it is for.

    ``arch`` uses Go's GOARCH names (``amd64``, ``arm64``, ``386``…) or ``unknown(<n>)``;
    ``os`` uses GOOS names where the headers or the Go build info tell it, else ``""``.
    ELF-only fields: ``elf_type``, ``osabi``, ``interpreter`` (PT_INTERP), ``needed``
    (DT_NEEDED), ``static``, ``stripped``. PE-only: ``subsystem``. ``machine`` is the raw
    header name (``EM_X86_64``, ``IMAGE_FILE_MACHINE_ARM64``, ``CPU_TYPE_ARM64``).
    ``truncated`` is True when only the first part of the file was read (a size cap), so
    facts stored past that point (section headers, build info) may be missing.
    """

    path: str
    format: ExecutableFormat
    arch: str
    bits: int
    big_endian: bool
    machine: str
    os: str = ""
    size: int = 0
    elf_type: str = ""
    osabi: str = ""
    interpreter: str | None = None
    needed: tuple[str, ...] = ()
    static: bool | None = None
    stripped: bool | None = None
    subsystem: str = ""
    go: GoBuildInfo | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class LayerScan:
    """One layer blob read in a single pass.

    ``diff_id`` is the sha256 of the uncompressed tar (what an image config lists);
    ``content_digest`` hashes the sorted entries without mtimes, so two rebuilds that wrote
    the same files in another order or at another time have the same one.
    ``compression`` is ``gzip``, ``zstd`` or ``none``.
    """

    name: str
    compression: str
    compressed_size: int
    uncompressed_size: int
    diff_id: str
    content_digest: str
    entries: tuple[FileEntry, ...] = ()
    binaries: tuple[BinaryInfo, ...] = ()


__all__ = [
    "BinaryInfo",
    "ExecutableFormat",
    "FileEntry",
    "FileType",
    "GoBuildInfo",
    "GoModule",
    "LayerScan",
]
