"""SARIF 2.1.0: one run, one ``reportingDescriptor`` per rule, the Dockerfile as the
artifact location of every result. Evidence, step and fix go into result ``properties``;
the finding id is the ``partialFingerprints`` entry so code-scanning UIs track it across
runs."""

from __future__ import annotations

from typing import Any

import orjson

from cachetrace.analysis.finding import Finding, Severity

from .document import Report
from .jsonreport import _step

__all__ = ["SARIF_SCHEMA", "dumps", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/cachetrace/cachetrace"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _result(report: Report, f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    text = f.message
    if f.evidence:
        text += " Evidence: " + "; ".join(e.text for e in f.evidence[:3])
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "level": _LEVEL[f.severity],
        "message": {"text": text},
        "partialFingerprints": {"cachetraceFindingId/v1": f.id},
        "properties": {
            "findingId": f.id,
            "severity": f.severity.value,
            "step": _step(f.step),
            "evidence": [
                {"kind": e.kind.value, "text": e.text, "platform": e.platform} for e in f.evidence
            ],
            "explanation": f.explanation,
            "fix": f.fix,
        },
    }
    if f.rule in rule_index:
        result["ruleIndex"] = rule_index[f.rule]
    loc = f.location
    if loc is not None:
        region: dict[str, Any] = {"startLine": loc.line, "endLine": max(loc.end_line, loc.line)}
        if loc.text:
            region["snippet"] = {"text": loc.text}
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": report.artifact_uri(loc), "uriBaseId": "SRCROOT"},
                    "region": region,
                }
            }
        ]
    return result


def to_sarif(report: Report) -> dict[str, Any]:
    rule_index = {r.id: i for i, r in enumerate(report.rules)}
    artifacts = sorted(
        {report.artifact_uri(f.location) for f in report.findings if f.location is not None}
    )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "cachetrace",
                "version": report.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [
                    {
                        "id": r.id,
                        "name": "".join(p.capitalize() for p in r.id.split("-")),
                        "shortDescription": {"text": r.title},
                        "fullDescription": {"text": r.summary},
                        "help": {"text": f"{r.summary} See {r.doc}."},
                        "defaultConfiguration": {"level": _LEVEL[r.severity]},
                        "properties": {"doc": r.doc},
                    }
                    for r in report.rules
                ],
            }
        },
        "originalUriBaseIds": {
            "SRCROOT": {"description": {"text": "the build's working directory"}}
        },
        "artifacts": [
            {"location": {"uri": uri, "uriBaseId": "SRCROOT"}, "roles": ["analysisTarget"]}
            for uri in artifacts
        ],
        "results": [_result(report, f, rule_index) for f in report.findings],
        "properties": {
            "capture": report.subject.capture,
            "buildRef": report.subject.build_ref,
            "platforms": list(report.subject.platforms),
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def dumps(report: Report) -> str:
    return orjson.dumps(
        to_sarif(report), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    ).decode()
