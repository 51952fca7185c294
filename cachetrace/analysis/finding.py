"""Findings: what a rule found, where, the evidence from the capture, why, and the fix.

Frozen dataclasses in the model's conventions (``cachetrace.model``), so findings can be
written with ``capture_io.codec`` like any model object; the published report schema lives in
``cachetrace.report.json`` and does not move when these move.

A finding's ``id`` is stable across runs of the same build: a hash of the rule, the
Dockerfile location (file and line) and the rule's key evidence (a mount id, an output
path…), never of vertex digests (those change with every local context upload).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "Evidence",
    "EvidenceKind",
    "Finding",
    "Severity",
    "SourceLocation",
    "StepRef",
    "finding_id",
]


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.lower())
        except ValueError:
            raise ValueError(f"unknown severity {text!r} (info, warning, error)") from None


class EvidenceKind(str, Enum):
    """What a piece of evidence is about (reports group and colour by it)."""

    COMMAND = "command"  # the step's command (op args)
    ENV = "env"  # an environment entry of the op (in the key)
    OP_FIELD = "op_field"  # another op field: mount, network, platform, proxy env…
    KEY = "key"  # a cache key digest or what entered it
    VERTEX = "vertex"  # status stream facts: vertex digests, timings, cached flags
    OUTPUT = "output"  # what a layer or exported output really holds
    BINARY = "binary"  # executable facts: ELF machine, PT_INTERP, Go build info
    REQUEST = "request"  # the solve request: build args, secrets offered
    NOTE = "note"  # a derived fact, with the facts it rests on in the other entries


@dataclass(frozen=True, slots=True)
class Evidence:
    """One typed fact from the capture. ``text`` reads as a sentence fragment on its own."""

    kind: EvidenceKind
    text: str
    platform: str = ""  # the target platform the fact belongs to, "" when it spans them


@dataclass(frozen=True, slots=True)
class StepRef:
    """The LLB step a finding is about, on one target platform (or several sharing it)."""

    id: str  # "stepN" in that platform's provenance
    vertex: str  # the LLB vertex digest ("" when unknown)
    name: str  # the status vertex name ("[build 4/4] RUN go build …"), or the op summary
    platform: str  # the target platform ("linux/arm64"); "" for a single-platform build
    platforms: tuple[str, ...] = ()  # every target platform whose build has this step here
    op_platform: str = ""  # the platform the op itself runs as (its key's OS/Arch)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A place in the Dockerfile: 1-based lines, the first line's text."""

    file: str
    line: int
    end_line: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    rule: str
    severity: Severity
    message: str
    explanation: str
    fix: str
    step: StepRef | None = None
    location: SourceLocation | None = None
    evidence: tuple[Evidence, ...] = ()
    related: tuple[StepRef, ...] = field(default_factory=tuple)  # other vertices involved


def finding_id(rule: str, location: SourceLocation | None, key: str) -> str:
    """A stable id: rule, Dockerfile file and line, and the rule's key evidence."""
    where = f"{location.file}:{location.line}" if location else "-"
    digest = hashlib.sha256(f"{rule}\x00{where}\x00{key}".encode()).hexdigest()
    return f"CT-{digest[:12]}"
