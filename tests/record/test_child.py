from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cachetrace.record.child import run_child


def test_exit_code_passes_through() -> None:
    res = run_child([sys.executable, "-c", "import sys; sys.exit(7)"])
    assert res.exit_code == 7
    assert res.signal is None
    assert res.finished_at >= res.started_at


def test_signal_is_forwarded_and_parent_survives(tmp_path: Path) -> None:
    # The parent (run_child in a subprocess) gets SIGTERM; the child must get it too, and the
    # parent must live on to report the child's exit code.
    marker = tmp_path / "child-got-term"
    child = textwrap.dedent(
        f"""
        import signal, sys, time
        def h(s, f):
            open({str(marker)!r}, "w").write("x"); sys.exit(42)
        signal.signal(signal.SIGTERM, h)
        time.sleep(30)
        """
    )
    parent = textwrap.dedent(
        f"""
        import sys
        from cachetrace.record.child import run_child
        res = run_child([sys.executable, "-c", {child!r}])
        print(res.exit_code, res.signal)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert out.split() == ["42", "SIGTERM"]
    assert marker.exists()


def test_missing_command_is_a_record_error() -> None:
    import pytest

    from cachetrace.errors import RecordError

    with pytest.raises(RecordError, match="command not found"):
        run_child(["/nonexistent/cachetrace-no-such-binary"])
