"""Short progress lines on stderr for the record job (silent with ``--quiet``)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self._stream = stream if stream is not None else sys.stderr
        self._bar_at = 0.0

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"cachetrace: {text}", file=self._stream, flush=True)

    def bar(self, what: str, done: int, total: int, nbytes: int = 0) -> None:
        """A one-line progress bar, redrawn at most 5 times a second; ends with a newline."""
        if self.quiet or total <= 0:
            return
        now = time.monotonic()
        last = done >= total
        if not last and now - self._bar_at < 0.2:
            return
        self._bar_at = now
        width = 24
        filled = width * done // total
        size = f" {nbytes / 1e6:.1f} MB" if nbytes else ""
        line = f"\rcachetrace: {what} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{size}"
        if self._stream.isatty():
            print(line, end="\n" if last else "", file=self._stream, flush=True)
        elif last:
            print(line.lstrip("\r"), file=self._stream, flush=True)
