from __future__ import annotations

import subprocess
import sys

import pytest

from cachetrace import __version__
from cachetrace.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"cachetrace {__version__}"


def test_unknown_command_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "invalid choice" in err
    assert "Traceback" not in err


def test_python_dash_m() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cachetrace", "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: cachetrace" in proc.stdout
