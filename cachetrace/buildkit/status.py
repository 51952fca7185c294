"""Merge a stream of ``StatusUpdate`` objects into the state of a build (pure, no I/O).

BuildKit re-sends a vertex whole whenever it changes, so vertices are replaced by digest
(never merged field by field: protobuf ``MergeFrom`` would append ``inputs`` twice); task
statuses are replaced by id; logs and warnings are appended in arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable

from cachetrace.model.build import StatusUpdate, Vertex, VertexLog, VertexStatus, VertexWarning


class BuildStatus:
    """The merged state of one build's status stream."""

    def __init__(self) -> None:
        self._vertices: dict[str, Vertex] = {}
        self._statuses: dict[str, VertexStatus] = {}
        self._logs: list[VertexLog] = []
        self._warnings: list[VertexWarning] = []
        self.updates = 0

    @classmethod
    def from_updates(cls, updates: Iterable[StatusUpdate]) -> BuildStatus:
        status = cls()
        for update in updates:
            status.apply(update)
        return status

    def apply(self, update: StatusUpdate) -> None:
        self.updates += 1
        for vertex in update.vertexes:
            self._vertices[vertex.digest] = vertex  # keeps first-seen order
        for st in update.statuses:
            self._statuses[st.id] = st
        self._logs.extend(update.logs)
        self._warnings.extend(update.warnings)

    @property
    def vertices(self) -> tuple[Vertex, ...]:
        """Vertices in the order they first appeared."""
        return tuple(self._vertices.values())

    def vertex(self, digest: str) -> Vertex | None:
        return self._vertices.get(digest)

    @property
    def statuses(self) -> tuple[VertexStatus, ...]:
        return tuple(self._statuses.values())

    @property
    def logs(self) -> tuple[VertexLog, ...]:
        return tuple(self._logs)

    @property
    def warnings(self) -> tuple[VertexWarning, ...]:
        return tuple(self._warnings)

    def output(self, digest: str, stream: int | None = None) -> str:
        """All log text of one vertex (optionally one stream), joined in order."""
        return "".join(
            log.msg
            for log in self._logs
            if log.vertex == digest and (stream is None or log.stream == stream)
        )

    @property
    def done(self) -> bool:
        """True when every known vertex has completed (or there are none yet: False)."""
        return bool(self._vertices) and all(
            v.completed is not None for v in self._vertices.values()
        )

    def snapshot(self) -> StatusUpdate:
        """The merged state as one update (vertices deduplicated)."""
        return StatusUpdate(self.vertices, self.statuses, self.logs, self.warnings)
