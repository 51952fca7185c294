"""grpc and protobuf load only when a command actually talks to BuildKit."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "cachetrace.cli",
        "cachetrace.commands.doctor",
        "cachetrace.commands.history",
        "cachetrace.buildkit.endpoints",
        "cachetrace.buildkit.status",
        "cachetrace.model.build",
    ],
)
def test_no_grpc_or_protobuf_on_import(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "import cachetrace.cli as cli; cli.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'grpc' "
        "or m.startswith(('google.protobuf', 'cachetrace._pb')))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
