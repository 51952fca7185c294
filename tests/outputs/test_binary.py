"""ELF/PE/Mach-O facts and Go build info parsing, without the engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cachetrace.errors import BinaryFormatError
from cachetrace.model.outputs import ExecutableFormat
from cachetrace.outputs.binary import executable_format, inspect_binary
from cachetrace.outputs.buildinfo import parse_buildinfo, parse_modinfo
from cachetrace.outputs.gostring import unquote
from tests.outputs.headers import minimal_macho, minimal_pe
from tests.outputs.legacy_elf import legacy_elf

HOST_ELF = Path("/bin/ls")


@pytest.mark.skipif(shutil.which("file") is None, reason="needs the file(1) command")
def test_host_elf_matches_file() -> None:
    info = inspect_binary(HOST_ELF.read_bytes(), str(HOST_ELF))
    desc = subprocess.run(
        ["file", "-bL", str(HOST_ELF)], capture_output=True, text=True, check=True
    ).stdout
    assert info is not None and info.format is ExecutableFormat.ELF
    assert desc.startswith(f"ELF {info.bits}-bit LSB")
    assert {"amd64": "x86-64", "arm64": "ARM aarch64"}[info.arch] in desc
    assert info.interpreter is not None and f"interpreter {info.interpreter}" in desc
    assert info.static is False and "dynamically linked" in desc
    assert ("not stripped" in desc) == (info.stripped is False)
    assert "libc.so.6" in info.needed
    assert info.os == "linux" and info.go is None


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf (binutils)")
def test_host_elf_needed_matches_readelf() -> None:
    info = inspect_binary(HOST_ELF.read_bytes())
    out = subprocess.run(
        ["readelf", "-dW", str(HOST_ELF)], capture_output=True, text=True, check=True
    ).stdout
    needed = tuple(
        line.rsplit("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line
    )
    assert info is not None and info.needed == needed and needed


def test_prefix_of_a_binary_is_marked_truncated() -> None:
    data = HOST_ELF.read_bytes()
    info = inspect_binary(data[:4096], "ls", size=len(data))
    assert info is not None
    assert info.truncated and info.size == len(data)
    assert info.arch in ("amd64", "arm64") and info.interpreter
    assert info.stripped is None  # the section headers are at the end


def test_pe_and_macho_headers() -> None:
    pe = inspect_binary(minimal_pe(0xAA64, 2))
    assert pe is not None
    assert (pe.format, pe.os, pe.arch, pe.bits, pe.subsystem) == (
        ExecutableFormat.PE,
        "windows",
        "arm64",
        64,
        "windows-gui",
    )
    pe32 = inspect_binary(minimal_pe(0x14C, 3, pe32_plus=False))
    assert pe32 is not None and (pe32.arch, pe32.bits, pe32.subsystem) == ("386", 32, "windows-cui")
    mac = inspect_binary(minimal_macho(0x01000007))
    assert mac is not None
    assert (mac.format, mac.os, mac.arch, mac.machine) == (
        ExecutableFormat.MACHO,
        "darwin",
        "amd64",
        "CPU_TYPE_X86_64",
    )
    assert mac.interpreter == "/usr/lib/dyld"
    assert mac.needed == ("/usr/lib/libSystem.B.dylib",)
    assert executable_format(b"#!/bin/sh") is None
    assert inspect_binary(b"\xca\xfe\xba\xbe\x00\x00\x00\x34rest-of-a-java-class") is None


def test_corrupt_headers_raise_binary_format_error() -> None:
    with pytest.raises(BinaryFormatError, match="ELF"):
        inspect_binary(b"\x7fELF\x03\x01" + bytes(60))
    with pytest.raises(BinaryFormatError, match="PE"):
        inspect_binary(b"MZ" + bytes(58) + b"\xff\xff\x00\x00")
    with pytest.raises(BinaryFormatError, match="ELF"):
        inspect_binary(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00")  # header cut short


def test_legacy_pointer_format_both_byte_orders() -> None:
    modinfo = "path\tex.com/p\nmod\tex.com/p\tv1.0.0\th1:x=\ndep\tex.com/d\tv0.1.0\th1:y=\n"
    for big, bits in ((False, 64), (True, 32)):
        go = parse_buildinfo(legacy_elf("go1.16.3", modinfo, big=big, bits=bits))
        assert go is not None and go.legacy_format
        assert go.go_version == "go1.16.3" and go.path == "ex.com/p"
        assert go.main is not None and go.main.version == "v1.0.0"
        assert [(d.path, d.version, d.sum) for d in go.deps] == [("ex.com/d", "v0.1.0", "h1:y=")]
    gopath = parse_buildinfo(legacy_elf("go1.12", ""))
    assert gopath is not None and gopath.path == "" and gopath.settings == {}
    in_bss = parse_buildinfo(legacy_elf("go1.14", "", bss=True))
    assert in_bss is not None and in_bss.go_version == "go1.14" and in_bss.main is None


def test_modinfo_quoting_and_replacements() -> None:
    text = (
        "path\tex.com/cmd/x\n"
        "mod\tex.com\t(devel)\t\n"
        "=>\t../local\t\t\n"
        "dep\tgolang.org/x/sys\tv0.1.0\th1:a=\n"
        "=>\tgolang.org/x/sys\tv0.2.0\th1:b=\n"
        "build\t-ldflags=\"-s -w -X 'main.v=1 2'\"\n"
        'build\t"odd key"=v\n'
        "build\t-tags=a,b\n"
        "build\tCGO_ENABLED=0\n"
        "build\tDefaultGODEBUG=x=1,y=2\n"
        "build\tGOAMD64=v3\n"
    )
    go = parse_modinfo("go1.24.0", text)
    assert go.main is not None and go.main.replace is not None
    assert go.main.replace.path == "../local"
    assert go.deps[0].replace is not None and go.deps[0].replace.version == "v0.2.0"
    assert go.settings["-ldflags"] == "-s -w -X 'main.v=1 2'"
    assert go.settings["odd key"] == "v"
    assert go.settings["DefaultGODEBUG"] == "x=1,y=2"
    assert go.cgo_enabled is False and go.arch_level == "GOAMD64=v3"
    for bad in ("build\t=x\n", "build\tnoequals\n", 'build\t"unterminated=1\n', "=>\tx\n"):
        with pytest.raises(BinaryFormatError):
            parse_modinfo("go1.24.0", bad)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"a b"', "a b"),
        (r'"tab\there"', "tab\there"),
        (r'"q\"uote"', 'q"uote'),
        (r'"\x41\101\u00e9\U0001F600"', "AAé😀"),
        (r'"\xc3\xa9"', "é"),
        ("`raw \\n`", "raw \\n"),
    ],
)
def test_go_unquote(literal: str, value: str) -> None:
    assert unquote(literal) == value


@pytest.mark.parametrize("literal", ['"\\q"', '"a', '"\\x4"', '"\\400"', '"\\uD800"', "x"])
def test_go_unquote_rejects(literal: str) -> None:
    with pytest.raises(ValueError):
        unquote(literal)


def test_not_go_and_magic_in_rodata_only() -> None:
    assert parse_buildinfo(HOST_ELF.read_bytes()) is None
    # the magic as a string constant (as in Go's own debug/buildinfo package) with garbage after
    blob = b"\x00" * 100 + b"\xff Go buildinf:" + b"\x08\x02" + bytes(16) + b"\xff" * 20
    assert parse_buildinfo(blob) is None


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(4)


_FILE_ARCH = {"amd64": "x86-64", "arm64": "ARM aarch64", "386": "Intel 80386"}


@pytest.mark.skipif(shutil.which("file") is None, reason="needs the file(1) command")
def test_every_host_elf_in_bin_dirs_matches_file() -> None:
    """Arch, interpreter, linking and stripped against file(1) for the machine's programs."""
    paths = [
        p
        for d in (Path("/usr/bin"), Path("/usr/sbin"))
        for p in sorted(d.iterdir())
        if p.is_file() and not p.is_symlink() and _head(p) == b"\x7fELF"
    ]
    assert len(paths) >= 50
    out = subprocess.run(
        ["file", "-N", "-F", "\x01", *map(str, paths)], capture_output=True, text=True, check=True
    ).stdout
    descs = dict(line.split("\x01 ", 1) for line in out.splitlines())
    for path in paths:
        info = inspect_binary(path.read_bytes(), str(path))
        desc = descs[str(path)]
        assert info is not None
        assert f"ELF {info.bits}-bit {'MSB' if info.big_endian else 'LSB'}" in desc  # or setuid ELF
        assert _FILE_ARCH[info.arch] in desc, (path, desc)
        if info.interpreter:
            assert f"interpreter {info.interpreter}," in desc, (path, desc)
        assert ("not stripped" in desc) == (info.stripped is False), (path, desc)
        if info.static is not None:
            assert ("dynamically linked" in desc) != info.static, (path, desc)
