"""The analyser and the reports stay headless: no grpc, no textual; orjson only in report."""

from __future__ import annotations

import subprocess
import sys


def _loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {name.split(".")[0] for name in out}


def test_analysis_imports_no_ui_no_grpc_no_orjson() -> None:
    loaded = _loaded("import cachetrace.analysis; import cachetrace.analysis.registry")
    assert not loaded & {"grpc", "textual", "orjson", "google"}


def test_reports_import_no_ui_no_grpc() -> None:
    loaded = _loaded(
        "import cachetrace.report.sarif, cachetrace.report.jsonreport, "
        "cachetrace.report.markdown, cachetrace.report.text, cachetrace.commands.analyze"
    )
    assert not loaded & {"grpc", "textual", "google"}
