"""After the child: gather everything about one build into a ``Build``.

Each part is taken from the best source there is and, where it cannot be had, recorded as
``Missing`` with the reason: the history record (polled until complete), the status stream
(live if the watch saw it to the end, else replayed from history), the provenance of every
result platform, the cache export, the layers of every step (scanned), and the exporters'
local outputs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cachetrace.buildkit.client import BuildkitClient
from cachetrace.buildkit.status import BuildStatus
from cachetrace.errors import CachetraceError, NotAvailableError
from cachetrace.model.build import HistoryRecord
from cachetrace.model.cache import CacheExport
from cachetrace.model.capture import (
    Build,
    ExportedOutput,
    LayerOutput,
    Missing,
    StatusSource,
)
from cachetrace.model.llb import Provenance
from cachetrace.model.oci import Descriptor, Platform
from cachetrace.record.cache_export import read_cache_export
from cachetrace.record.exports import scan_exports
from cachetrace.record.layers import ScanCache, blob_opener, scan_blob
from cachetrace.record.logs import LogBounder
from cachetrace.record.progress import Progress
from cachetrace.record.watch import HistoryWatch

RECORD_WAIT = 30.0


@dataclass
class BuildJob:
    """What the collector knows about one build before it starts."""

    ref: str
    target: str | None
    metadata: Mapping[str, Any]
    cache_dir: Path | None
    cache_note: str | None
    platforms: tuple[str, ...]


def wait_record(client: BuildkitClient, ref: str, timeout: float = RECORD_WAIT) -> HistoryRecord:
    """The history record of ``ref`` once BuildKit has completed it (or the last one seen)."""
    deadline = time.monotonic() + timeout
    record: HistoryRecord | None = None
    while True:
        try:
            record = client.record(ref)
        except NotAvailableError:
            if time.monotonic() > deadline:
                raise
        if record is not None and record.completed_at is not None:
            return record
        if time.monotonic() > deadline:
            if record is None:
                raise NotAvailableError(f"no history record {ref!r}")
            return record
        time.sleep(0.2)


REPLAY_WAIT = 20.0


def _status(
    client: BuildkitClient, watch: HistoryWatch | None, record: HistoryRecord | None, ref: str
) -> tuple[BuildStatus | None, StatusSource, str | None]:
    """The build's status: the live stream if it ran to its end, else a replay.

    A finished record's log blob is the replay of choice (a plain read that always ends); the
    ``Status`` call is the fallback, bounded, because for some finished builds BuildKit keeps
    that stream open without sending anything (seen on Docker 28.5.2 with a failed build).
    """
    watched = watch.builds().get(ref) if watch is not None else None
    if watched is not None and watched.stream_ended and watched.status.updates:
        return watched.status, StatusSource.LIVE, None
    problems = [
        f"live stream broke ({watched.stream_error})"
        if watched is not None and watched.stream_error
        else "the live stream did not end"
        if watched is not None
        else "the live stream was not seen"
    ]
    if record is not None and record.logs is not None:
        try:
            return BuildStatus.from_updates(client.status_log(record)), StatusSource.REPLAY, None
        except CachetraceError as exc:
            problems.append(str(exc))
    replay = BuildStatus()
    done = threading.Event()
    failure: list[str] = []

    def read() -> None:
        try:
            for update in client.status(ref):
                replay.apply(update)
        except CachetraceError as exc:
            failure.append(str(exc))
        finally:
            done.set()

    threading.Thread(target=read, name=f"cachetrace-replay-{ref}", daemon=True).start()
    finished = done.wait(REPLAY_WAIT)
    if finished and not failure and replay.updates:
        return replay, StatusSource.REPLAY, None
    if failure:
        problems.append(failure[0])
    elif not finished:
        problems.append(f"Status replay sent nothing conclusive within {REPLAY_WAIT:.0f} s")
    best = (
        replay if replay.updates else watched.status if watched and watched.status.updates else None
    )
    if best is not None:
        return (
            best,
            StatusSource.REPLAY if best is replay else StatusSource.LIVE,
            "; ".join([*problems, "the status kept is partial"]),
        )
    return None, StatusSource.NONE, "; ".join(problems)


def _layer_descriptors(
    provenance: Mapping[str, Provenance], cache: CacheExport | None
) -> dict[str, tuple[Descriptor, list[str], int]]:
    """Unique layer blobs -> (descriptor, the step outputs whose chains hold it, index).

    Provenance names layers only for results that were turned into layers (an image export);
    a ``mode=max`` cache export holds the layer of every cached step, so its layers are
    scanned too (they are joined to steps through their cache records, in the graph).
    """
    found: dict[str, tuple[Descriptor, list[str], int]] = {}
    for prov in provenance.values():
        for key, chains in sorted(prov.layers.items()):
            for chain in chains:
                for index, desc in enumerate(chain):
                    entry = found.setdefault(desc.digest, (desc, [], index))
                    if key not in entry[1]:
                        entry[1].append(key)
    if cache is not None:
        for layer in cache.layers:
            if layer.blob not in found and layer.present:
                desc = Descriptor(layer.media_type, layer.blob, layer.size or 0, layer.annotations)
                found[layer.blob] = (desc, [], len(cache.layer_chain(layer.index)) - 1)
    return found


def scan_layers(
    client: BuildkitClient,
    provenance: Mapping[str, Provenance],
    cache: CacheExport | None,
    cache_dirs: list[Path],
    scan_cache: ScanCache | None,
    progress: Progress,
) -> tuple[LayerOutput, ...]:
    descs = _layer_descriptors(provenance, cache)
    opener = blob_opener(cache_dirs, client.read_blob)
    out: list[LayerOutput] = []
    total = len(descs)
    nbytes = 0
    for i, (desc, steps, index) in enumerate(descs.values(), 1):
        try:
            scan = scan_blob(desc, opener, scan_cache)
            out.append(LayerOutput(desc, tuple(steps), index, scan))
        except CachetraceError as exc:
            out.append(LayerOutput(desc, tuple(steps), index, None, str(exc)))
        nbytes += desc.size
        progress.bar("scanning layers", i, total, nbytes)
    return tuple(out)


def _platform_or_none(spec: str) -> Platform | None:
    try:
        return Platform.parse(spec)
    except ValueError:
        return None


def _exec_keys(provenance: Mapping[str, Provenance]) -> dict[str, dict[str, str]]:
    """Each exec step's CacheMap digest, from the op as BuildKit gave it (before redaction)."""
    from cachetrace.graph.exec_key import exec_cache_digest

    keys: dict[str, dict[str, str]] = {}
    for platform, prov in provenance.items():
        default = _platform_or_none(prov.request.builder_platform)
        for step in prov.steps:
            if step.op.exec is None:
                continue
            try:
                digest = exec_cache_digest(step.op.raw, None, default_platform=default)
            except CachetraceError:
                continue
            keys.setdefault(platform, {})[step.id] = digest
    return keys


def collect_build(
    client: BuildkitClient,
    job: BuildJob,
    *,
    watch: HistoryWatch | None,
    outputs: Any,
    scan: bool,
    scan_cache: ScanCache | None,
    child_failed: str | None,
    progress: Progress,
) -> Build:
    missing: list[Missing] = []
    incomplete: list[str] = []
    if child_failed:
        incomplete.append(child_failed)

    progress.say(f"collecting history for build {job.ref}")
    record: HistoryRecord | None
    try:
        record = wait_record(client, job.ref)
    except CachetraceError as exc:
        record = None
        missing.append(Missing("history_record", str(exc)))
        incomplete.append("no history record")
    if record is not None and record.error is not None:
        incomplete.append(f"build failed: {record.error.message}")
    elif record is not None and record.completed_at is None:
        incomplete.append("the build had not completed when it was recorded")

    status, source, why = _status(client, watch, record, job.ref)
    if why is not None:
        missing.append(Missing("status", why))

    provenance: dict[str, Provenance] = {}
    if record is not None:
        try:
            provenance = client.provenances(record)
        except CachetraceError as exc:
            missing.append(Missing("provenance", str(exc)))
    else:
        missing.append(Missing("provenance", "no history record to read it from"))

    exec_keys = _exec_keys(provenance)
    cache: CacheExport | None = None
    if job.cache_dir is None:
        missing.append(Missing("cache_export", job.cache_note or "no cache export"))
    else:
        progress.say(f"reading cache export {job.cache_dir}")
        try:
            cache = read_cache_export(job.cache_dir)
        except CachetraceError as exc:
            failed = record is None or record.error is not None or bool(child_failed)
            why = "the build did not finish, so BuildKit exported no cache; " if failed else ""
            missing.append(Missing("cache_export", f"{why}{exc}"))

    layers: tuple[LayerOutput, ...] = ()
    exports: tuple[ExportedOutput, ...] = ()
    if not scan:
        missing.append(Missing("outputs", "output scanning disabled with --no-outputs"))
    else:
        dirs = [job.cache_dir] if job.cache_dir is not None else []
        layers = scan_layers(client, provenance, cache, dirs, scan_cache, progress)
        if not layers:
            missing.append(Missing("outputs", "neither provenance nor a cache export names layers"))
        platforms = job.platforms or tuple(p for p in sorted(provenance) if p)
        exports = scan_exports(outputs, platforms)

    return Build(
        ref=job.ref,
        complete=not incomplete,
        incomplete_reasons=tuple(incomplete),
        target=job.target,
        record=record,
        status_source=source,
        vertices=status.vertices if status is not None else (),
        logs=LogBounder().extend(status.logs).streams() if status is not None else (),
        warnings=status.warnings if status is not None else (),
        provenance=provenance,
        cache=cache,
        layers=layers,
        exports=exports,
        metadata=dict(job.metadata),
        exec_keys=exec_keys,
        missing=tuple(missing),
    )
