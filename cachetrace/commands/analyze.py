"""``cachetrace analyze CAPTURE``: run the rules over a recorded build and report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "find implicit cache pollution in a recorded build: findings with evidence and fixes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", metavar="CAPTURE", type=Path, help="a capture file (record)")
    parser.add_argument(
        "--build",
        type=int,
        default=None,
        metavar="N",
        help="the build to analyse (index in the capture, from 0; default: every build)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "markdown"),
        default="text",
        help="report format (default: text)",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report here")
    parser.add_argument(
        "--fail-on",
        choices=("info", "warning", "error"),
        default="error",
        help="exit 1 when a finding at or above this severity exists (default: error)",
    )
    parser.add_argument(
        "--rules",
        action="append",
        metavar="ID[,ID…]",
        help="run only these rules (repeatable, comma lists allowed)",
    )


def run(args: argparse.Namespace) -> int:
    from cachetrace.analysis import Severity, run_rules, select_rules
    from cachetrace.analysis.context import BuildContext
    from cachetrace.capture_io.files import load_capture, write_atomic
    from cachetrace.errors import ReportError, UsageError
    from cachetrace.report import build_report, render

    rules = select_rules(args.rules)
    path: Path = args.capture
    if not path.is_file():
        raise UsageError(f"{path}: no such capture file")
    capture = load_capture(path)
    if not capture.builds:
        raise UsageError(f"{path}: the capture holds no build")
    if args.build is not None and not 0 <= args.build < len(capture.builds):
        raise UsageError(
            f"--build {args.build}: the capture has {len(capture.builds)} build(s) (0-based)"
        )
    findings = run_rules(capture, rules, build=args.build)
    index = args.build if args.build is not None else 0
    build = capture.builds[index]
    platforms = tuple(BuildContext(build).platforms)
    report = build_report(
        findings,
        rules,
        capture=str(path),
        build=build,
        build_index=index,
        builder=capture.builder.name if capture.builder is not None else "",
        created_at=capture.created_at,
        platforms=platforms,
    )
    text = render(report, args.format)
    if args.output is not None:
        try:
            write_atomic(args.output, text.encode())
        except OSError as exc:
            raise ReportError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    threshold = Severity.parse(args.fail_on)
    return 1 if any(f.severity.rank >= threshold.rank for f in findings) else 0
