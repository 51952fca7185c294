"""Bound each step's log output before it goes into a capture.

A step's log (per vertex and stream) keeps its first ``head`` and last ``tail`` bytes; what
lies between is replaced by one marker line and counted in ``LogStream.truncated``, so a
capture stays small however chatty a build is, and the reader sees where text was cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cachetrace.model.build import VertexLog
from cachetrace.model.capture import LogStream

DEFAULT_HEAD = 48 * 1024
DEFAULT_TAIL = 16 * 1024


def cut_marker(n: int) -> str:
    return f"\n[… {n} bytes cut by cachetrace …]\n"


@dataclass
class _Stream:
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    size: int = 0


class LogBounder:
    """Collects log chunks per (vertex, stream) with bounded memory."""

    def __init__(self, head: int = DEFAULT_HEAD, tail: int = DEFAULT_TAIL) -> None:
        self._head = head
        self._tail = tail
        self._streams: dict[tuple[str, int], _Stream] = {}

    def add(self, log: VertexLog) -> None:
        data = log.msg.encode("utf-8", errors="replace")
        s = self._streams.setdefault((log.vertex, log.stream), _Stream())
        s.size += len(data)
        room = self._head - len(s.head)
        if room > 0:
            s.head += data[:room]
            data = data[room:]
        if data:
            s.tail += data
            if len(s.tail) > self._tail:
                del s.tail[: len(s.tail) - self._tail]

    def extend(self, logs: Iterable[VertexLog]) -> LogBounder:
        for log in logs:
            self.add(log)
        return self

    def streams(self) -> tuple[LogStream, ...]:
        out: list[LogStream] = []
        for (vertex, stream), s in self._streams.items():
            cut = s.size - len(s.head) - len(s.tail)
            if cut > 0:
                text = (
                    s.head.decode("utf-8", errors="replace")
                    + cut_marker(cut)
                    + s.tail.decode("utf-8", errors="replace")
                )
            else:
                text = (s.head + s.tail).decode("utf-8", errors="replace")
            out.append(LogStream(vertex, stream, text, s.size, max(cut, 0)))
        return tuple(out)
