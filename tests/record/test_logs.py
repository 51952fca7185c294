from __future__ import annotations

from cachetrace.model.build import VertexLog
from cachetrace.record.logs import LogBounder


def test_small_logs_kept_whole_per_vertex_and_stream() -> None:
    b = LogBounder().extend(
        [
            VertexLog("sha256:a", 1, "hello "),
            VertexLog("sha256:a", 2, "oops"),
            VertexLog("sha256:a", 1, "world"),
        ]
    )
    got = {(s.vertex, s.stream): (s.text, s.size, s.truncated) for s in b.streams()}
    assert got == {("sha256:a", 1): ("hello world", 11, 0), ("sha256:a", 2): ("oops", 4, 0)}


def test_long_log_keeps_head_and_tail_with_marker() -> None:
    b = LogBounder(head=10, tail=5)
    for i in range(100):
        b.add(VertexLog("v", 1, f"{i:03d}\n"))
    (s,) = b.streams()
    assert s.size == 400
    assert s.truncated == 385
    assert s.text.startswith("000\n001\n00")
    assert s.text.endswith("\n099\n")
    assert "385 bytes cut by cachetrace" in s.text
