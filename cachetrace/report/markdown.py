"""Markdown for tickets and CI step summaries: a summary table, then every finding with its
evidence, explanation and fix in a collapsible ``<details>`` block."""

from __future__ import annotations

import html

from cachetrace.analysis.finding import Finding, Severity

from .document import Report

__all__ = ["render"]

_ICON = {Severity.ERROR: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`" if text else ""


def _where(report: Report, f: Finding) -> str:
    loc = f.location
    if loc is None:
        return "-"
    return f"{report.artifact_uri(loc)}:{loc.line}"


def render(report: Report) -> str:
    s = report.subject
    out = ["# cachetrace report", ""]
    platforms = ", ".join(s.platforms) or "-"
    out.append(
        f"Capture `{s.capture}`, build `{s.build_ref or '-'}`, Dockerfile "
        f"`{s.dockerfile or '-'}`, platforms {platforms}."
    )
    out.append("")
    out.append("| Severity | Count |")
    out.append("|---|---|")
    for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        out.append(f"| {_ICON[sev]} {sev.value} | {report.count(sev)} |")
    out.append("")
    if not report.findings:
        out.append("No findings.")
        return "\n".join(out) + "\n"
    out.append("| | Rule | Where | Step | Finding |")
    out.append("|---|---|---|---|---|")
    for f in report.findings:
        step = f.step.name if f.step else "-"
        out.append(
            f"| {_ICON[f.severity]} | `{f.rule}` | {_cell(_where(report, f))} | "
            f"{_cell(_code(step[:80]))} | {_cell(f.message)} |"
        )
    out.append("")
    out.append("## Findings")
    for f in report.findings:
        out.append("")
        out.append(f"### {_ICON[f.severity]} {f.severity.value}: `{f.rule}` at {_where(report, f)}")
        out.append("")
        out.append(f"{f.message}")
        out.append("")
        if f.location is not None and f.location.text:
            out.append("```dockerfile")
            out.append(f.location.text)
            out.append("```")
            out.append("")
        if f.step is not None:
            plats = ", ".join(f.step.platforms or (f.step.platform,))
            out.append(
                f"Step `{f.step.id}` ({_code(f.step.name[:100])}), vertex "
                f"`{f.step.vertex[:19] or '-'}`, platforms {plats or '-'}. Finding id `{f.id}`."
            )
            out.append("")
        out.append("<details>")
        out.append(f"<summary>Evidence ({len(f.evidence)})</summary>")
        out.append("")
        for e in f.evidence:
            plat = f" [{e.platform}]" if e.platform else ""
            out.append(f"- **{e.kind.value}**{plat}: {html.escape(e.text, quote=False)}")
        out.append("")
        out.append("</details>")
        out.append("")
        out.append(f"**Why:** {f.explanation}")
        out.append("")
        out.append(f"**Fix:** {f.fix}")
    return "\n".join(out) + "\n"
