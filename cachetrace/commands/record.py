"""``cachetrace record [options] -- COMMAND...``: run a build and capture it."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a build command and record the build: status, LLB, cache keys, logs, outputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "cachetrace record [options] -- COMMAND [ARG...]"
    parser.add_argument("--builder", help="buildx builder to watch (default: as buildx resolves)")
    parser.add_argument("--addr", help="BuildKit address for buildctl (default: $BUILDKIT_HOST)")
    parser.add_argument("--tlscacert", help="CA certificate for a tcp:// --addr")
    parser.add_argument("--tlscert", help="client certificate for a tcp:// --addr")
    parser.add_argument("--tlskey", help="client key for a tcp:// --addr")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", type=Path, metavar="FILE", help="capture file to write")
    where.add_argument(
        "--dir",
        type=Path,
        default=Path("captures"),
        metavar="DIR",
        help="directory for captures/<builder>-<ref>.json (default: captures)",
    )
    parser.add_argument(
        "--no-cache-export",
        action="store_true",
        help="do not add a local cache export (the capture then has no keys)",
    )
    parser.add_argument("--no-outputs", action="store_true", help="do not scan layers and outputs")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    parser.add_argument(
        "--no-fail",
        action="store_true",
        help="run the command even when the builder cannot be reached",
    )
    parser.add_argument("--ref", help="capture an already finished build from history instead")
    parser.add_argument(
        "--cache-dir", type=Path, help="with --ref: that build's local cache export directory"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the build command, after --")


def run(args: argparse.Namespace) -> int:
    from cachetrace.buildkit.endpoints import TLSFiles
    from cachetrace.errors import UsageError
    from cachetrace.record.job import RecordOptions, record, record_ref

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    tls = TLSFiles(args.tlscacert, args.tlscert, args.tlskey)
    opts = RecordOptions(
        argv=tuple(command),
        builder=args.builder,
        addr=args.addr,
        tls=tls if tls.any else None,
        output=args.output,
        out_dir=args.dir,
        cache_export=not args.no_cache_export,
        outputs=not args.no_outputs,
        quiet=args.quiet,
        no_fail=args.no_fail,
    )
    if args.ref:
        if command:
            raise UsageError("give either --ref or a command to run, not both")
        return record_ref(args.ref, opts, args.cache_dir).exit_code
    if args.cache_dir:
        raise UsageError("--cache-dir goes with --ref")
    if not command:
        raise UsageError("record needs a build command after --, e.g. `-- docker buildx build .`")
    return record(opts).exit_code
