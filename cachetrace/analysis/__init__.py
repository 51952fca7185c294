"""The analyser: rules over one recorded build, each finding with its evidence and fix.

``run_rules(capture_or_build, rules=None) -> tuple[Finding, ...]``; ``RULES`` maps rule ids
to :class:`Rule`. One module per rule in ``cachetrace.analysis.rules``; the joined view they
read is :class:`BuildContext`.
"""

from __future__ import annotations

from .context import BuildContext
from .finding import Evidence, EvidenceKind, Finding, Severity, SourceLocation, StepRef
from .registry import RULES, Rule, rule_ids, run_rules, select_rules

__all__ = [
    "RULES",
    "BuildContext",
    "Evidence",
    "EvidenceKind",
    "Finding",
    "Rule",
    "Severity",
    "SourceLocation",
    "StepRef",
    "rule_ids",
    "run_rules",
    "select_rules",
]
