"""A rule: id, title, default severity, summary and its check function."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .context import BuildContext
from .finding import Finding, Severity

__all__ = ["DOCS_BASE", "Rule"]

DOCS_BASE = "docs/rules"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity  # the highest severity it gives
    summary: str  # one paragraph: what it finds
    check: Callable[[BuildContext], Iterable[Finding]]

    @property
    def doc(self) -> str:
        return f"{DOCS_BASE}/{self.id}.md"
