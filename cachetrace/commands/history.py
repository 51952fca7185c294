"""``cachetrace history``: the builds a builder remembers, newest first."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from cachetrace.buildkit.endpoints import add_endpoint_arguments, endpoint_from_args

if TYPE_CHECKING:
    from cachetrace.model.build import HistoryRecord

HELP = "list the builds in the builder's history: ref, name, status, duration, steps, cached"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_endpoint_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON array instead of a table")


def run(args: argparse.Namespace) -> int:
    from cachetrace.buildkit.client import BuildkitClient

    with BuildkitClient.connect(endpoint_from_args(args)) as client:
        records = [e.record for e in client.history()]
    records.sort(key=lambda r: r.created_at or 0.0, reverse=True)
    rows = [summary(r) for r in records]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(table(rows))
    return 0


def summary(record: HistoryRecord) -> dict[str, object]:
    """The fields ``history`` shows for one record (also its ``--json`` row)."""
    return {
        "ref": record.ref,
        "name": record.name,
        "status": record.state.value,
        "error": record.error.message if record.error else None,
        "created_at": record.created_at,
        "duration": record.duration,
        "steps": record.num_total_steps,
        "completed_steps": record.num_completed_steps,
        "cached_steps": record.num_cached_steps,
        "warnings": record.num_warnings,
    }


def table(rows: list[dict[str, object]]) -> str:
    header = ("REF", "NAME", "STATUS", "DURATION", "STEPS", "CACHED")
    lines = [header]
    for row in rows:
        duration = row["duration"]
        lines.append(
            (
                str(row["ref"]),
                _clip(str(row["name"]), 40),
                str(row["status"]),
                f"{duration:.1f}s" if isinstance(duration, float) else "-",
                f"{row['completed_steps']}/{row['steps']}",
                str(row["cached_steps"]),
            )
        )
    if len(lines) == 1:
        return "no builds in history"
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
