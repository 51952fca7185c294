"""The report document: findings plus what was analysed, redacted once for every format.

``build_report(findings, rules, ...)`` gives a :class:`Report`; the formats
(``jsonreport``, ``sarif``, ``markdown``, ``text``) render it. Every string of every finding
goes through the capture's redaction (``cachetrace.capture_io.redact``) here, so no format
can leak what the capture itself would not hold.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cachetrace import __version__
from cachetrace.analysis.finding import Evidence, Finding, Severity, SourceLocation, StepRef
from cachetrace.analysis.rule import Rule
from cachetrace.capture_io.redact import redact_text
from cachetrace.model.capture import Build

__all__ = ["Report", "Subject", "build_report", "redact_finding"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What was analysed: the capture file and the build in it."""

    capture: str  # the capture file as given
    build_ref: str = ""
    build_index: int = 0
    builder: str = ""
    dockerfile: str = ""  # the Dockerfile as a path relative to the working directory
    platforms: tuple[str, ...] = ()
    created_at: float | None = None


@dataclass(frozen=True, slots=True)
class Report:
    tool_version: str
    subject: Subject
    rules: tuple[Rule, ...]
    findings: tuple[Finding, ...]

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def artifact_uri(self, location: SourceLocation | None) -> str:
        """The Dockerfile of a location as a relative path (what SARIF viewers open)."""
        if location is None:
            return ""
        if self.subject.dockerfile and posixpath.basename(self.subject.dockerfile) == (
            posixpath.basename(location.file)
        ):
            return self.subject.dockerfile
        return location.file


def _step(ref: StepRef | None) -> StepRef | None:
    if ref is None:
        return None
    return replace(ref, name=redact_text(ref.name))


def redact_finding(f: Finding) -> Finding:
    """Every free-text field of ``f`` through the capture's redaction."""
    location = f.location
    if location is not None:
        location = replace(location, text=redact_text(location.text))
    return replace(
        f,
        message=redact_text(f.message),
        explanation=redact_text(f.explanation),
        fix=redact_text(f.fix),
        step=_step(f.step),
        location=location,
        evidence=tuple(Evidence(e.kind, redact_text(e.text), e.platform) for e in f.evidence),
        related=tuple(r for r in (_step(x) for x in f.related) if r is not None),
    )


def dockerfile_path(build: Build) -> str:
    """``tests/scenarios/x/Dockerfile`` from the build's frontend attrs, when it says."""
    attrs = build.record.frontend_attrs if build.record is not None else {}
    name = attrs.get("filename", "")
    where = attrs.get("vcs:localdir:dockerfile", "")
    if not name:
        for prov in build.provenance.values():
            if prov.sources:
                name = prov.sources[0].filename
                break
    if not name:
        return ""
    return posixpath.normpath(posixpath.join(where, name)) if where else name


def build_report(
    findings: Sequence[Finding],
    rules: Sequence[Rule],
    *,
    capture: str,
    build: Build | None = None,
    build_index: int = 0,
    builder: str = "",
    created_at: float | None = None,
    platforms: Sequence[str] = (),
) -> Report:
    subject = Subject(
        capture=capture,
        build_ref=build.ref if build is not None else "",
        build_index=build_index,
        builder=builder,
        dockerfile=redact_text(dockerfile_path(build)) if build is not None else "",
        platforms=tuple(platforms),
        created_at=created_at,
    )
    return Report(
        tool_version=__version__,
        subject=subject,
        rules=tuple(rules),
        findings=tuple(redact_finding(f) for f in findings),
    )
