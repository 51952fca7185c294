"""``cachetrace graph CAPTURE``: the joined graph of steps, cache keys and layers, exported."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cachetrace.graph.build import BuildGraph

HELP = "export a capture's joined graph (steps, cache records, layers) as DOT, Mermaid or JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", type=Path, help="capture file written by `cachetrace record`")
    parser.add_argument(
        "--build", default="0", metavar="N|REF", help="which build of the capture (default: 0)"
    )
    parser.add_argument(
        "--format", choices=("dot", "mermaid", "json"), default="dot", help="default: dot"
    )
    parser.add_argument(
        "--step",
        action="append",
        default=[],
        metavar="STEP",
        help="only this step's neighbourhood: step5, linux/arm64/step5, Dockerfile:12, or a "
        "vertex digest prefix (repeatable)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="print how the steps were joined to cache records (per method, unmatched) instead",
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here (default: stdout)"
    )


def run(args: argparse.Namespace) -> int:
    from cachetrace.capture_io.files import load_capture
    from cachetrace.errors import UsageError
    from cachetrace.graph.build import build_graph
    from cachetrace.graph.export import render

    capture = load_capture(args.capture)
    build: int | str = int(args.build) if str(args.build).isdigit() else args.build
    bg = build_graph(capture, build)
    if args.stats:
        sys.stdout.write(_stats_text(bg))
        return 0
    part = None
    if args.step:
        chosen = []
        for spec in args.step:
            found = bg.find_steps(spec)
            if not found:
                last = max((s.index for s in (x.step for x in bg.steps())), default=0)
                raise UsageError(
                    f"no step matches {spec!r} (give step0..step{last}, a Dockerfile line "
                    "like Dockerfile:12, or a vertex digest prefix)"
                )
            chosen.extend(found)
        part = bg.neighbourhood(chosen)
    text = render(bg, args.format, part)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"cachetrace graph: {bg.stats().summary()} -> {args.output}", file=sys.stderr)
    return 0


def _stats_text(bg: BuildGraph) -> str:
    lines = [f"build {bg.build.ref}: {bg.stats().summary()}"]
    for step in bg.steps():
        joins = bg.joins_of(step)
        if joins:
            how = ", ".join(
                f"record {record.index} {join.method.value} {join.confidence:g}"
                for record, join in joins
            )
            where = f" ({step.location})" if step.location else ""
            lines.append(f"  {step.label}{where} {step.kind.value}: {how}")
    for step, why in bg.unmatched_steps():
        lines.append(f"  unmatched step {step.label} {step.kind.value}: {why}")
    for record in bg.unmatched_records():
        note = bg.unmatched_note(record.index)
        lines.append(f"  unmatched record {record.index} {record.digest}: {note}")
    return "\n".join(lines) + "\n"
