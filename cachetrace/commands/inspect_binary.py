"""``cachetrace inspect-binary FILE``: which OS and architecture an executable is for."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from cachetrace.errors import BinaryFormatError, UsageError
from cachetrace.model.outputs import BinaryInfo, ExecutableFormat, GoBuildInfo, GoModule

HELP = "Show an executable's format, OS/architecture, linking and Go build info."

# Read at most this much of a file; bigger files are inspected from their prefix.
READ_CAP = 256 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="an ELF, PE or Mach-O file")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")


def run(args: argparse.Namespace) -> int:
    from cachetrace.outputs.binary import inspect_binary

    path = Path(args.file)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            data = f.read(READ_CAP)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    info = inspect_binary(data, str(path), size=size)
    if info is None:
        raise BinaryFormatError(f"{path}: not an executable (no ELF, PE or Mach-O header)")
    if args.json:
        print(json.dumps(asdict(info), indent=2))
    else:
        sys.stdout.write("".join(line + "\n" for line in describe(info)))
    return 0


def platform_of(info: BinaryInfo) -> str:
    return f"{info.os or '?'}/{info.arch}"


def linking_of(info: BinaryInfo) -> str:
    if info.static is None:
        return "unknown" if info.elf_type in ("EXEC", "DYN", "") else info.elf_type.lower()
    if info.static:
        return "static"
    return f"dynamic, interpreter {info.interpreter}" if info.interpreter else "dynamic"


def describe(info: BinaryInfo) -> list[str]:
    """The facts as aligned text lines (the CLI's rendering; the model renders nothing)."""
    order = "big-endian" if info.big_endian else "little-endian"
    kind = {
        ExecutableFormat.ELF: "ELF",
        ExecutableFormat.PE: "PE",
        ExecutableFormat.MACHO: "Mach-O",
    }
    head = f"{kind[info.format]} {info.bits}-bit {order}"
    if info.elf_type:
        head += f" {info.elf_type}"
    if info.osabi:
        head += f" (OS ABI {info.osabi})"
    lines = [
        info.path or "<data>",
        f"  format     {head}",
        f"  platform   {platform_of(info)}",
        f"  machine    {info.machine}",
        f"  size       {info.size}" + ("  (only a prefix was read)" if info.truncated else ""),
    ]
    if info.format is ExecutableFormat.PE:
        lines.append(f"  subsystem  {info.subsystem or '?'}")
    else:
        lines.append(f"  linking    {linking_of(info)}")
        if info.needed:
            lines.append(f"  needed     {', '.join(info.needed)}")
    if info.stripped is not None:
        lines.append(f"  stripped   {'yes' if info.stripped else 'no'}")
    if info.go is not None:
        lines.extend(describe_go(info.go))
    return lines


def describe_go(go: GoBuildInfo) -> list[str]:
    """Go build info in the shape ``go version -m`` prints it."""
    lines = [f"  go         {go.go_version}" + ("  (pre-1.18 format)" if go.legacy_format else "")]
    if go.path:
        lines.append(f"    path\t{go.path}")
    if go.main is not None:
        lines.extend(_module_lines("mod", go.main))
    for dep in go.deps:
        lines.extend(_module_lines("dep", dep))
    for key, value in go.settings.items():
        lines.append(f"    build\t{key}={value}")
    return lines


def _module_lines(kind: str, m: GoModule) -> list[str]:
    lines = [f"    {kind}\t{m.path}\t{m.version}\t{m.sum}".rstrip("\t")]
    if m.replace is not None:
        r = m.replace
        lines.append(f"    =>\t{r.path}\t{r.version}\t{r.sum}".rstrip("\t"))
    return lines
