"""The ``record`` job: from the user's build command to a capture file.

1. Recognise the command and add ``--metadata-file`` and a local cache export (``argv``).
2. Resolve and reach the builder before the child starts (``--no-fail`` runs it anyway).
3. Follow history and live status while the child runs (``watch``), signals forwarded.
4. Match builds: by the metadata file's refs, else by builds that started while it ran.
5. Collect every build (``collect``) and write one capture, atomically, even when the build
   failed or was interrupted (then marked incomplete, with the reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachetrace import __version__
from cachetrace.buildkit.client import BuildkitClient
from cachetrace.buildkit.endpoints import Endpoint, TLSFiles, resolve_endpoint
from cachetrace.capture_io.files import SCHEMA_VERSION, write_capture
from cachetrace.errors import CachetraceError, EngineError, RecordError
from cachetrace.model.capture import Build, Builder, Capture, CommandKind, Invocation, Missing
from cachetrace.record.argv import BuildCommand, prepare, with_bake_targets
from cachetrace.record.child import ChildResult, run_child
from cachetrace.record.collect import BuildJob, collect_build, wait_record
from cachetrace.record.export_dir import locked_export_dir, prune, safe_name
from cachetrace.record.layers import ScanCache, cache_root
from cachetrace.record.progress import Progress
from cachetrace.record.watch import HistoryWatch

CONTAINERD_LABEL = "org.mobyproject.buildkit.worker.containerd.namespace"


@dataclass(frozen=True)
class RecordOptions:
    argv: tuple[str, ...]
    builder: str | None = None
    addr: str | None = None
    tls: TLSFiles | None = None
    output: Path | None = None  # -o FILE
    out_dir: Path = Path("captures")  # --dir DIR
    cache_export: bool = True
    outputs: bool = True
    quiet: bool = False
    no_fail: bool = False
    persistent_export: bool = True  # reuse one export directory per builder (much faster)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class RecordOutcome:
    exit_code: int
    capture_path: Path | None
    capture: Capture | None


def capture_name(builder: str, ref: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{builder}-{ref}")
    return f"{safe}.json"


def _builder_info(client: BuildkitClient, endpoint: Endpoint) -> Builder:
    from cachetrace.buildkit.docker_api import engine_version

    info = client.info()
    workers = client.workers()
    engine = engine_version(endpoint.docker_host, endpoint.tls) if endpoint.docker_host else None
    return Builder(
        name=endpoint.builder or endpoint.address,
        endpoint=endpoint.description,
        driver=endpoint.driver or "",
        buildkit=info,
        workers=workers,
        engine_version=engine,
    )


def _cache_export_blocker(endpoint: Endpoint, builder: Builder) -> str | None:
    """Why a local cache export would fail on this builder (and break the build), if it would."""
    if endpoint.driver == "docker" and not any(
        CONTAINERD_LABEL in w.labels for w in builder.workers
    ):
        return (
            "the Docker Engine does not use the containerd image store, so its builder "
            "cannot export cache (enable features.containerd-snapshotter)"
        )
    return None


def _bake_targets(cmd: BuildCommand, env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    argv = [*cmd.argv[: cmd.insert_at], "--print", *cmd.argv[cmd.insert_at :]]
    proc = subprocess.run(argv, capture_output=True, env=dict(env), check=False, timeout=120)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RecordError(f"`{' '.join(argv[:4])} --print` failed: {msg[-1] if msg else ''}")
    try:
        targets = json.loads(proc.stdout).get("target", {})
    except (ValueError, AttributeError):
        raise RecordError("cannot read `bake --print` output") from None
    return {str(k): v for k, v in targets.items() if isinstance(v, dict)}


def _metadata(cmd: BuildCommand) -> dict[str, Any]:
    if cmd.metadata_file is None:
        return {}
    try:
        data = json.loads(cmd.metadata_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _ref_of(meta: Mapping[str, Any]) -> str | None:
    ref = meta.get("buildx.build.ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) and ref else None


def match_builds(
    cmd: BuildCommand,
    metadata: Mapping[str, Any],
    started: Sequence[tuple[str, float]],
    child: ChildResult,
    failed: Callable[[str], bool],
) -> list[tuple[str, str | None, Mapping[str, Any]]]:
    """(ref, bake target, metadata) of each build the child ran.

    The metadata file names the refs of successful builds. Without it (buildx writes none for
    a failed or interrupted build) the candidates are the builds that started on this builder
    while the child ran; for buildx those must also have failed, since a successful build of
    the child's would be in its metadata, so a neighbour's build on a shared builder is not
    taken for ours.
    """
    found: list[tuple[str, str | None, Mapping[str, Any]]] = []
    if cmd.kind is CommandKind.BAKE:
        for target in cmd.bake_targets or sorted(metadata):
            entry = metadata.get(target)
            if isinstance(entry, dict) and (ref := _ref_of(entry)):
                found.append((ref, target, entry))
    elif ref := _ref_of(metadata):
        found.append((ref, None, metadata))
    if found or (child.exit_code == 0 and cmd.kind is not CommandKind.BUILDCTL):
        return found
    window = [r for r, t in started if child.started_at - 1 <= t <= child.finished_at + 1]
    if cmd.kind is not CommandKind.BUILDCTL:
        window = [r for r in window if failed(r)]
    if cmd.kind in (CommandKind.BUILDX_BUILD, CommandKind.DOCKER_BUILD):
        window = window[:1]
    return [(r, None, {}) for r in window]


def _failed_on(client: BuildkitClient) -> Callable[[str], bool]:
    def failed(ref: str) -> bool:
        try:
            rec = wait_record(client, ref, timeout=15)
        except CachetraceError:
            return True  # cancelled before a record was kept: an interrupted build
        return rec.error is not None or rec.completed_at is None

    return failed


def record(opts: RecordOptions, progress: Progress | None = None) -> RecordOutcome:
    progress = progress or Progress(opts.quiet)
    workdir = Path(tempfile.mkdtemp(prefix="cachetrace-"))
    try:
        return _record(opts, progress, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _record(opts: RecordOptions, progress: Progress, workdir: Path) -> RecordOutcome:
    env = dict(opts.env)
    cmd = prepare(opts.argv, workdir, cache_export=opts.cache_export)
    if cmd.docker_context:
        env["DOCKER_CONTEXT"] = cmd.docker_context
    builder_name = opts.builder or cmd.builder
    addr = opts.addr or cmd.addr
    client: BuildkitClient | None = None
    builder: Builder | None = None
    unreachable: str | None = None
    try:
        endpoint = resolve_endpoint(builder=builder_name, addr=addr, tls=opts.tls, env=env)
        client = BuildkitClient.connect(endpoint)
        builder = _builder_info(client, endpoint)
    except EngineError as exc:
        if not opts.no_fail:
            raise
        unreachable = str(exc)
        progress.say(f"builder unreachable, running the command anyway: {exc}")
    stack = contextlib.ExitStack()
    try:
        if builder is not None and opts.cache_export and cmd.kind is not CommandKind.BAKE:
            blocker = _cache_export_blocker(endpoint, builder)
            if blocker and cmd.cache_dirs and any("--cache-to" in f for f in cmd.added_flags):
                cmd = _with_note(prepare(opts.argv, workdir, cache_export=False), blocker)
            elif opts.persistent_export and any(d.is_relative_to(workdir) for d in cmd.cache_dirs):
                root = cache_root(env) / "exports" / safe_name(builder.name)
                base = stack.enter_context(locked_export_dir(root))
                if base is not None:
                    cmd = prepare(opts.argv, workdir, cache_export=True, cache_base=base)
        if cmd.kind is CommandKind.BAKE:
            cmd = with_bake_targets(cmd, _bake_targets(cmd, env), workdir, opts.cache_export)
        watch: HistoryWatch | None = None
        if client is not None:
            watch = HistoryWatch(client)
            watch.start()
            time.sleep(0.1)  # let the history subscription reach the daemon first
        child = run_child(cmd.run_argv, env=env)
        outcome = _finish(opts, progress, cmd, client, builder, watch, child, unreachable)
        _prune_persistent(cmd, workdir, outcome)
        return outcome
    finally:
        stack.close()
        if client is not None:
            client.close()


def _prune_persistent(cmd: BuildCommand, workdir: Path, outcome: RecordOutcome) -> None:
    """Drop blobs the newest export no longer needs from our persistent export directory."""
    ours = [
        d
        for d in cmd.cache_dirs
        if cmd.kind is not CommandKind.BAKE
        and not d.is_relative_to(workdir)
        and any(str(d) in f for f in cmd.added_flags)
    ]
    if not ours or outcome.capture is None:
        return
    for build in outcome.capture.builds:
        if build.cache is not None:
            prune(ours[0], build.cache)
            return


def _with_note(cmd: BuildCommand, note: str) -> BuildCommand:
    from dataclasses import replace

    return replace(cmd, cache_export_note=note)


def _finish(
    opts: RecordOptions,
    progress: Progress,
    cmd: BuildCommand,
    client: BuildkitClient | None,
    builder: Builder | None,
    watch: HistoryWatch | None,
    child: ChildResult,
    unreachable: str | None,
) -> RecordOutcome:
    invocation = Invocation(
        kind=cmd.kind,
        argv=cmd.argv,
        run_argv=cmd.run_argv,
        added_flags=cmd.added_flags,
        cwd=os.getcwd(),
        started_at=child.started_at,
        finished_at=child.finished_at,
        exit_code=child.exit_code,
        signal=child.signal,
    )
    child_failed = None
    if child.signal:
        child_failed = f"interrupted by {child.signal}"
    elif child.exit_code != 0:
        child_failed = f"the build command exited {child.exit_code}"
    builds: list[Build] = []
    reasons: list[str] = []
    if unreachable:
        reasons.append(f"builder unreachable: {unreachable}")
    if client is not None and watch is not None:
        metadata = _metadata(cmd)
        started = sorted(((b.ref, b.seen_at) for b in watch.builds().values()), key=lambda x: x[1])
        matched = match_builds(cmd, metadata, started, child, _failed_on(client))
        watch.wait_streams([m[0] for m in matched], timeout=10)
        scan_cache = ScanCache(cache_root(dict(opts.env)))
        for i, (ref, target, meta) in enumerate(matched):
            cache_dir = _cache_dir_for(cmd, target, i)
            job = BuildJob(ref, target, meta, cache_dir, cmd.cache_export_note, cmd.platforms)
            try:
                builds.append(
                    collect_build(
                        client,
                        job,
                        watch=watch,
                        outputs=cmd.outputs,
                        scan=opts.outputs,
                        scan_cache=scan_cache,
                        child_failed=child_failed,
                        progress=progress,
                    )
                )
            except KeyboardInterrupt:
                reasons.append(f"interrupted while collecting build {ref}")
                builds.append(
                    Build(
                        ref=ref,
                        complete=False,
                        incomplete_reasons=(reasons[-1],),
                        target=target,
                        missing=(Missing("all", reasons[-1]),),
                    )
                )
                break
        watch.close()
        if not matched:
            reasons.append("no build was seen on the builder while the command ran")
    if child_failed:
        reasons.append(child_failed)
    reasons.extend(r for b in builds for r in b.incomplete_reasons if r not in reasons)
    capture = Capture(
        schema_version=SCHEMA_VERSION,
        tool=f"cachetrace {__version__}",
        created_at=time.time(),
        invocation=invocation,
        builder=builder,
        builds=tuple(builds),
        complete=not reasons and bool(builds),
        incomplete_reasons=tuple(reasons),
    )
    path = _capture_path(opts, builder, builds, child)
    write_capture(capture, path)
    progress.say(f"wrote {path}" + ("" if capture.complete else " (incomplete)"))
    return RecordOutcome(child.exit_code, path, capture)


def _cache_dir_for(cmd: BuildCommand, target: str | None, index: int) -> Path | None:
    if not cmd.cache_dirs:
        return None
    if target is not None:
        for d in cmd.cache_dirs:
            if d.name == target:
                return d
    return cmd.cache_dirs[min(index, len(cmd.cache_dirs) - 1)]


def _capture_path(
    opts: RecordOptions, builder: Builder | None, builds: list[Build], child: ChildResult
) -> Path:
    if opts.output is not None:
        return opts.output
    name = builder.name if builder is not None else "unreachable"
    name = os.path.basename(name.rstrip("/")) or "builder"
    ref = builds[0].ref if builds else time.strftime("%Y%m%dT%H%M%S", time.gmtime(child.started_at))
    return opts.out_dir / capture_name(name, ref)


def record_ref(ref: str, opts: RecordOptions, cache_dir: Path | None) -> RecordOutcome:
    """Capture an already finished build from history (``record --ref``)."""
    progress = Progress(opts.quiet)
    endpoint = resolve_endpoint(builder=opts.builder, addr=opts.addr, tls=opts.tls, env=opts.env)
    with BuildkitClient.connect(endpoint) as client:
        builder = _builder_info(client, endpoint)
        now = time.time()
        job = BuildJob(
            ref,
            None,
            {},
            cache_dir,
            None
            if cache_dir
            else "a finished build from history: give --cache-dir "
            "with the build's local cache export to include its keys",
            (),
        )
        build = collect_build(
            client,
            job,
            watch=None,
            outputs=(),
            scan=opts.outputs,
            scan_cache=ScanCache(cache_root(dict(opts.env))),
            child_failed=None,
            progress=progress,
        )
    invocation = Invocation(CommandKind.HISTORY, ("history", ref), (), (), os.getcwd(), now, now)
    capture = Capture(
        SCHEMA_VERSION,
        f"cachetrace {__version__}",
        time.time(),
        invocation,
        builder,
        (build,),
        build.complete,
        build.incomplete_reasons,
    )
    path = opts.output or opts.out_dir / capture_name(
        os.path.basename(builder.name.rstrip("/")) or "builder", ref
    )
    write_capture(capture, path)
    progress.say(f"wrote {path}")
    return RecordOutcome(0, path, capture)


__all__ = ["CachetraceError", "RecordOptions", "RecordOutcome", "record", "record_ref"]
