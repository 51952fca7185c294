"""Findings -> reports: JSON (own versioned schema), SARIF 2.1.0, Markdown, text.

``build_report(findings, rules, capture=..., build=...)`` makes a redacted :class:`Report`;
``render(report, fmt)`` gives the text of one format.
"""

from __future__ import annotations

from typing import Literal

from cachetrace.errors import ReportError

from .document import Report, Subject, build_report, redact_finding

__all__ = ["FORMATS", "Format", "Report", "Subject", "build_report", "redact_finding", "render"]

Format = Literal["text", "json", "sarif", "markdown"]
FORMATS: tuple[Format, ...] = ("text", "json", "sarif", "markdown")


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        from .jsonreport import dumps

        return dumps(report)
    if fmt == "sarif":
        from .sarif import dumps as sarif_dumps

        return sarif_dumps(report)
    if fmt == "markdown":
        from .markdown import render as md

        return md(report)
    if fmt == "text":
        from .text import render as txt

        return txt(report)
    raise ReportError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")
