"""``cachetrace inspect-layer BLOB``: what a layer blob holds, read in one streaming pass."""

from __future__ import annotations

import argparse
import json
import stat
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from cachetrace.commands.inspect_binary import linking_of, platform_of
from cachetrace.errors import UsageError
from cachetrace.model.outputs import FileEntry, FileType, LayerScan

HELP = "Show a layer blob's diffID, content digest, entries and executables."

_TYPE_CHAR = {
    FileType.FILE: "-",
    FileType.DIR: "d",
    FileType.SYMLINK: "l",
    FileType.HARDLINK: "h",
    FileType.CHAR_DEVICE: "c",
    FileType.BLOCK_DEVICE: "b",
    FileType.FIFO: "p",
    FileType.WHITEOUT: "w",
    FileType.OPAQUE_WHITEOUT: "o",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("blob", metavar="BLOB", help="a layer blob (gzip, zstd or plain tar)")
    parser.add_argument(
        "--media-type", help="the blob's media type (default: decided by its magic bytes)"
    )
    parser.add_argument("--entries", action="store_true", help="list every entry (text output)")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")


def run(args: argparse.Namespace) -> int:
    from cachetrace.outputs.layer import scan_layer

    path = Path(args.blob)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        scan = scan_layer(f, media_type=args.media_type, name=str(path))
    if args.json:
        print(json.dumps(asdict(scan), indent=2))
    else:
        sys.stdout.write("".join(line + "\n" for line in describe(scan, entries=args.entries)))
    return 0


def describe(scan: LayerScan, *, entries: bool = False) -> list[str]:
    counts = Counter(e.type for e in scan.entries)
    by_type = ", ".join(
        f"{n} {t.value}" for t, n in sorted(counts.items(), key=lambda i: i[0].value)
    )
    lines = [
        f"layer {scan.name}",
        f"  compression  {scan.compression}",
        f"  size         {scan.compressed_size} compressed, {scan.uncompressed_size} uncompressed",
        f"  diffID       {scan.diff_id}",
        f"  content      {scan.content_digest}",
        f"  entries      {len(scan.entries)}" + (f" ({by_type})" if by_type else ""),
        f"  binaries     {len(scan.binaries)}",
    ]
    for b in scan.binaries:
        go = f"  {b.go.go_version}" if b.go is not None else ""
        lines.append(f"    {b.path}  {b.format.value} {platform_of(b)} {linking_of(b)}{go}")
    if entries:
        lines.append("  entries:")
        lines.extend("    " + _entry_line(e) for e in scan.entries)
    return lines


def _entry_line(e: FileEntry) -> str:
    mode = _TYPE_CHAR[e.type] + stat.filemode(e.mode)[1:]
    line = f"{mode} {e.uid}:{e.gid} {e.size:>10} {e.path}"
    if e.link_target:
        line += (" -> " if e.type is FileType.SYMLINK else " link to ") + e.link_target
    if e.sha256:
        line += f"  {e.sha256[:19]}"
    return line
