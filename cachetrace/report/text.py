"""Plain text for terminals: findings grouped by severity, each with file:line and step."""

from __future__ import annotations

import textwrap

from cachetrace.analysis.finding import Severity

from .document import Report

__all__ = ["render"]

_WIDTH = 100


def render(report: Report, *, verbose: bool = True) -> str:
    s = report.subject
    out = [
        f"cachetrace: {s.capture} build {s.build_ref or '-'}"
        + (f" ({', '.join(s.platforms)})" if s.platforms else ""),
    ]
    if not report.findings:
        out.append("no findings")
        return "\n".join(out) + "\n"
    for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        group = [f for f in report.findings if f.severity is sev]
        if not group:
            continue
        out.append("")
        out.append(f"{sev.value.upper()} ({len(group)})")
        for f in group:
            where = f"{report.artifact_uri(f.location)}:{f.location.line}" if f.location else "-"
            step = f.step.name if f.step else ""
            out.append(f"  {where}  [{f.rule}] {f.message}")
            if step:
                plats = ", ".join(f.step.platforms) if f.step and f.step.platforms else ""
                out.append(f"    step: {step[:90]}" + (f"  ({plats})" if plats else ""))
            if not verbose:
                continue
            for e in f.evidence:
                plat = f"[{e.platform}] " if e.platform else ""
                out.extend(
                    textwrap.wrap(
                        f"{plat}{e.text}",
                        _WIDTH,
                        initial_indent="    - ",
                        subsequent_indent="      ",
                    )
                )
            out.extend(
                textwrap.wrap(
                    f"fix: {f.fix}", _WIDTH, initial_indent="    ", subsequent_indent="      "
                )
            )
            out.append(f"    id: {f.id}")
    counts = ", ".join(f"{report.count(sev)} {sev.value}" for sev in Severity)
    out.append("")
    out.append(f"{len(report.findings)} finding(s): {counts}")
    return "\n".join(out) + "\n"
