"""The JSON report: cachetrace's own versioned schema (``docs/report-format.md``,
``docs/report.schema.json``). Field names are frozen once published; a change that removes
or renames one bumps ``schema_version``."""

from __future__ import annotations

from typing import Any

import orjson

from cachetrace.analysis.finding import Finding, Severity, SourceLocation, StepRef

from .document import Report

__all__ = ["SCHEMA_ID", "SCHEMA_VERSION", "dumps", "to_document"]

SCHEMA_ID = "https://cachetrace.dev/schemas/report.schema.json"
SCHEMA_VERSION = 1


def _step(ref: StepRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {
        "id": ref.id,
        "vertex": ref.vertex,
        "name": ref.name,
        "platform": ref.platform,
        "platforms": list(ref.platforms),
        "op_platform": ref.op_platform,
    }


def _location(report: Report, loc: SourceLocation | None) -> dict[str, Any] | None:
    if loc is None:
        return None
    return {
        "file": report.artifact_uri(loc),
        "line": loc.line,
        "end_line": loc.end_line or loc.line,
        "text": loc.text,
    }


def _finding(report: Report, f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "rule": f.rule,
        "severity": f.severity.value,
        "message": f.message,
        "location": _location(report, f.location),
        "step": _step(f.step),
        "evidence": [
            {"kind": e.kind.value, "text": e.text, "platform": e.platform} for e in f.evidence
        ],
        "explanation": f.explanation,
        "fix": f.fix,
        "related": [_step(r) for r in f.related],
    }


def to_document(report: Report) -> dict[str, Any]:
    s = report.subject
    by_rule: dict[str, int] = {}
    for f in report.findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "cachetrace", "version": report.tool_version},
        "subject": {
            "capture": s.capture,
            "build_ref": s.build_ref,
            "build_index": s.build_index,
            "builder": s.builder,
            "dockerfile": s.dockerfile,
            "platforms": list(s.platforms),
            "created_at": s.created_at,
        },
        "rules": [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity.value,
                "summary": r.summary,
                "doc": r.doc,
            }
            for r in report.rules
        ],
        "summary": {
            "total": len(report.findings),
            "by_severity": {sev.value: report.count(sev) for sev in Severity},
            "by_rule": by_rule,
        },
        "findings": [_finding(report, f) for f in report.findings],
    }


def dumps(report: Report) -> str:
    return orjson.dumps(
        to_document(report), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    ).decode()
