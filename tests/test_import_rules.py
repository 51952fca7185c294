"""The headless core never drags in the terminal UI or grpc where they do not belong."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import cachetrace

REPO = Path(__file__).resolve().parent.parent

# module prefix -> third-party modules it must never load (directly or indirectly)
FORBIDDEN = {
    "cachetrace.model": {"grpc", "google.protobuf", "networkx", "orjson", "textual"},
    "cachetrace.errors": {"grpc", "google.protobuf", "networkx", "orjson", "textual"},
    "cachetrace.outputs": {"grpc", "google.protobuf", "networkx", "textual"},
    "cachetrace.capture_io": {"grpc", "google.protobuf", "networkx", "textual"},
    "cachetrace.graph": {"grpc", "google.protobuf", "textual"},
    "cachetrace.analysis": {"grpc", "google.protobuf", "textual"},
    "cachetrace.report": {"grpc", "google.protobuf", "textual"},
    "cachetrace.buildkit": {"textual", "networkx"},
    "cachetrace.record": {"textual", "networkx"},
    "cachetrace.tui": {"grpc", "google.protobuf"},
    "cachetrace.cli": {"grpc", "google.protobuf", "networkx", "textual"},
}


def _modules() -> list[str]:
    names = ["cachetrace.cli"]
    for info in pkgutil.walk_packages(cachetrace.__path__, "cachetrace."):
        if info.name.startswith("cachetrace._pb"):
            continue
        names.append(info.name)
    return names


def test_headless_modules_import_clean() -> None:
    checked = 0
    for name in _modules():
        rule = next(
            (v for k, v in FORBIDDEN.items() if name == k or name.startswith(k + ".")), None
        )
        if rule is None:
            continue
        code = (
            "import importlib, sys\n"
            f"importlib.import_module({name!r})\n"
            f"bad = sorted(m for m in {sorted(rule)!r} if m in sys.modules)\n"
            "print(','.join(bad))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert out == "", f"{name} loads {out}"
        checked += 1
    assert checked >= 3


def test_import_linter_contracts() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(exe)], check=False, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
