from __future__ import annotations

from pathlib import Path

import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.cli import main
from cachetrace.commands.show import render

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def test_show_makes_the_collapse_visible() -> None:
    lines = list(render(load_capture(CAPTURES / "graph-platform-collapse.json")))
    text = "\n".join(lines)
    assert "platform linux/amd64" in text and "platform linux/arm64" in text
    assert any("Dockerfile:" in line and "go build" in line for line in lines)
    arm = lines.index(next(line for line in lines if "export local linux/arm64" in line))
    assert "elf, linux/amd64" in lines[arm + 1]  # the arm64 output holds an amd64 binary


def test_show_bad_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    assert main(["show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a capture file" in err
