"""BuildStatus: vertices replaced by digest, statuses by id, logs and warnings appended."""

from __future__ import annotations

from cachetrace.buildkit.status import BuildStatus
from cachetrace.model.build import StatusUpdate, Vertex, VertexLog, VertexStatus, VertexWarning


def test_vertex_snapshots_replace_and_keep_first_seen_order() -> None:
    a1 = Vertex("sha256:a", "RUN a", inputs=("sha256:base",), started=1.0)
    b1 = Vertex("sha256:b", "RUN b", inputs=("sha256:a",))
    a2 = Vertex("sha256:a", "RUN a", inputs=("sha256:base",), started=1.0, completed=2.0)
    status = BuildStatus.from_updates([StatusUpdate(vertexes=(a1, b1)), StatusUpdate((a2,))])
    assert status.vertices == (a2, b1)
    assert status.vertex("sha256:a") is a2
    # a protobuf MergeFrom would have given ("sha256:base", "sha256:base")
    assert status.vertices[0].inputs == ("sha256:base",)
    assert not status.done
    status.apply(StatusUpdate((Vertex("sha256:b", "RUN b", completed=3.0),)))
    assert status.done
    assert status.updates == 3


def test_statuses_replace_by_id_logs_and_warnings_append() -> None:
    s1 = VertexStatus("pull", "sha256:a", current=1, total=10)
    s2 = VertexStatus("pull", "sha256:a", current=10, total=10, completed=5.0)
    other = VertexStatus("extract", "sha256:a")
    w = VertexWarning("sha256:a", 1, "check")
    status = BuildStatus()
    status.apply(StatusUpdate(statuses=(s1, other), logs=(VertexLog("sha256:a", 1, "he"),)))
    status.apply(
        StatusUpdate(
            statuses=(s2,),
            logs=(VertexLog("sha256:a", 2, "err"), VertexLog("sha256:a", 1, "llo\n")),
            warnings=(w, w),
        )
    )
    assert status.statuses == (s2, other)
    assert status.output("sha256:a") == "heerrllo\n"
    assert status.output("sha256:a", 1) == "hello\n"
    assert status.output("sha256:b") == ""
    assert status.warnings == (w, w)
    snap = status.snapshot()
    assert snap.statuses == (s2, other) and len(snap.logs) == 3


def test_empty_stream_is_not_done() -> None:
    assert not BuildStatus().done
    assert BuildStatus().snapshot() == StatusUpdate()
