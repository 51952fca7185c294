from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.model.capture import Capture
from tests.engine import Engine


@dataclass
class Recorded:
    proc: subprocess.CompletedProcess[str]
    path: Path
    raw: bytes

    @property
    def capture(self) -> Capture:
        return load_capture(self.path)


def record(
    engine: Engine,
    cwd: Path,
    command: Sequence[str],
    *,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Recorded:
    out = cwd / "capture.json"
    argv = [sys.executable, "-m", "cachetrace", "record", "-o", str(out), *extra, "--", *command]
    e = engine.env
    e.update(env or {})
    e["CACHETRACE_CACHE_DIR"] = str(cwd / ".ctcache")
    proc = subprocess.run(
        argv, cwd=cwd, env=e, capture_output=True, text=True, timeout=600, check=False
    )
    return Recorded(proc, out, out.read_bytes() if out.exists() else b"")


def record_interrupted(
    engine: Engine, cwd: Path, command: Sequence[str], after: float, sig: int = signal.SIGINT
) -> Recorded:
    out = cwd / "capture.json"
    e = engine.env
    e["CACHETRACE_CACHE_DIR"] = str(cwd / ".ctcache")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cachetrace", "record", "-o", str(out), "--", *command],
        cwd=cwd,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(after)
    os.kill(proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=300)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return Recorded(done, out, out.read_bytes() if out.exists() else b"")


@pytest.fixture
def recorder(engine: Engine) -> Engine:
    return engine
