"""Run the wrapped build command: argv (no shell), stdio passed through, signals forwarded.

SIGINT and SIGTERM that reach cachetrace while the child runs are forwarded to it, and
cachetrace keeps running so it can still write a capture. A Ctrl-C typed at a terminal already
reaches the child (it shares the terminal's foreground process group), so SIGINT is forwarded
only when the child did not get it itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from cachetrace.errors import RecordError

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class ChildResult:
    exit_code: int  # the child's, or 128+N when a signal N ended it
    started_at: float
    finished_at: float
    signal: str | None  # the signal cachetrace received and forwarded, if any


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> ChildResult:
    """Run ``argv`` to completion and return how it ended. Never raises for a failing child."""
    received: list[int] = []
    started = time.time()
    try:
        proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None)
    except FileNotFoundError:
        raise RecordError(f"cannot run {argv[0]!r}: command not found") from None
    except PermissionError:
        raise RecordError(f"cannot run {argv[0]!r}: permission denied") from None

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if signum == signal.SIGINT and _child_has_terminal_signal(proc.pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        if on_start is not None:
            on_start(proc.pid)
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - handler replaced SIGINT
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    finished = time.time()
    exit_code = code if code >= 0 else 128 - code
    name = signal.Signals(received[0]).name if received else None
    return ChildResult(exit_code, started, finished, name)


def _child_has_terminal_signal(pid: int) -> bool:
    """True when the child is in the terminal's foreground group (a typed ^C reached it)."""
    try:
        fd = sys.stdin.fileno()
        return os.isatty(fd) and os.getpgid(pid) == os.tcgetpgrp(fd)
    except (OSError, ValueError):
        return False
