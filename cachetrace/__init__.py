"""cachetrace: BuildKit cache-key forensics.

A headless core (model, BuildKit client, recorder, outputs, graph, analysis, report)
with thin front ends (``cachetrace.cli`` and ``cachetrace.tui``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
