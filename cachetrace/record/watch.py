"""Watch a builder while the wrapped command runs.

``HistoryWatch`` follows ``ListenBuildHistory`` (active builds, follow mode) on a thread and,
for every build that starts, reads its live ``Status`` stream on another thread into a
``BuildStatus``. Threads end when their stream ends or when the client is closed; a stream that
broke is remembered so the collector can replay the status from history instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cachetrace.buildkit.client import BuildkitClient
from cachetrace.buildkit.status import BuildStatus
from cachetrace.errors import CachetraceError
from cachetrace.model.build import HistoryEventType


@dataclass
class WatchedBuild:
    ref: str
    seen_at: float
    status: BuildStatus = field(default_factory=BuildStatus)
    stream_ended: bool = False  # the live Status stream ran to its end
    stream_error: str | None = None
    thread: threading.Thread | None = None


class HistoryWatch:
    def __init__(self, client: BuildkitClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._builds: dict[str, WatchedBuild] = {}
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="cachetrace-history", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for event in self._client.history(active_only=True, follow=True):
                if self._closed.is_set():
                    return
                if event.type is HistoryEventType.STARTED:
                    self._started(event.record.ref, event.record.created_at)
        except CachetraceError as exc:
            if not self._closed.is_set():
                self.error = str(exc)

    def _started(self, ref: str, created_at: float | None) -> None:
        with self._lock:
            if ref in self._builds:
                return
            # when the build was created, not when we heard of it: the subscription also
            # lists builds that were already running (or stuck) before the child started
            build = WatchedBuild(ref, created_at if created_at is not None else time.time())
            self._builds[ref] = build
        t = threading.Thread(
            target=self._read_status, args=(build,), name=f"cachetrace-status-{ref}", daemon=True
        )
        build.thread = t
        t.start()

    def _read_status(self, build: WatchedBuild) -> None:
        try:
            for update in self._client.status(build.ref):
                build.status.apply(update)
            build.stream_ended = True
        except CachetraceError as exc:
            build.stream_error = str(exc)

    def builds(self) -> dict[str, WatchedBuild]:
        with self._lock:
            return dict(self._builds)

    def wait_streams(self, refs: list[str], timeout: float) -> None:
        """Give the live Status streams of ``refs`` up to ``timeout`` seconds to end."""
        deadline = time.monotonic() + timeout
        for ref in refs:
            build = self.builds().get(ref)
            if build is not None and build.thread is not None:
                build.thread.join(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self._closed.set()
