"""Recognise the wrapped build command and add only what cachetrace needs.

cachetrace adds ``--metadata-file`` (unless the user gave one: then it reads theirs) and a
local cache export with ``mode=max`` (unless ``--no-cache-export``, or the user's own
``--cache-to``/``--export-cache`` already writes a local one it can read). Every flag of the
user's stays as it was; several ``--cache-to`` are allowed by buildx and BuildKit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cachetrace.errors import UsageError
from cachetrace.model.capture import CommandKind

# docker CLI global options that take a value (docker [OPTIONS] COMMAND)
_DOCKER_GLOBAL_VALUE = {
    "--config",
    "-c",
    "--context",
    "-H",
    "--host",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
}
_BUILDCTL_GLOBAL_VALUE = {
    "--addr",
    "--tlsservername",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    "--tlsdir",
    "--timeout",
    "--log-format",
    "--wait",
}


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One ``-o/--output`` of the build, as parsed from its CSV form."""

    type: str
    dest: str | None
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuildCommand:
    """What cachetrace understood of the command, and how it will run it."""

    kind: CommandKind
    argv: tuple[str, ...]
    run_argv: tuple[str, ...]
    added_flags: tuple[str, ...]
    metadata_file: Path | None  # where the build metadata will be (ours or the user's)
    cache_dirs: tuple[Path, ...]  # local cache exports to read (ours or the user's)
    cache_export_note: str | None  # why there is no cache export to read, if so
    outputs: tuple[OutputSpec, ...]
    platforms: tuple[str, ...]
    builder: str | None  # --builder given in the command
    addr: str | None  # buildctl --addr
    docker_context: str | None
    insert_at: int = 0  # where the added flags go in argv
    bake_targets: tuple[str, ...] = ()


def parse_csv(value: str) -> dict[str, str]:
    """``type=local,dest=out`` -> {"type": "local", "dest": "out"} (buildx's CSV form)."""
    out: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if key.strip():
            out[key.strip().lower()] = val.strip() if sep else ""
    return out


def _flag_values(args: Sequence[str], names: set[str]) -> list[str]:
    """Values of the given flags, in either ``--flag value`` or ``--flag=value`` form."""
    values: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok in names and i + 1 < len(args):
            values.append(args[i + 1])
            i += 2
            continue
        name, sep, val = tok.partition("=")
        if sep and name in names:
            values.append(val)
        i += 1
    return values


def _outputs(args: Sequence[str], cwd: Path) -> tuple[OutputSpec, ...]:
    specs: list[OutputSpec] = []
    for value in _flag_values(args, {"-o", "--output"}):
        if "=" not in value:  # `-o DIR` is the local exporter, `-o -` a tar on stdout
            specs.append(OutputSpec("tar", "-") if value == "-" else OutputSpec("local", value))
            continue
        attrs = parse_csv(value)
        kind = attrs.pop("type", "local")
        dest = attrs.pop("dest", None)
        specs.append(OutputSpec(kind, dest, attrs))
    return tuple(
        OutputSpec(
            s.type, str((cwd / s.dest).resolve()) if s.dest and s.dest != "-" else s.dest, s.attrs
        )
        for s in specs
    )


def _metadata_file(rest: Sequence[str], cwd: Path, workdir: Path, added: list[str]) -> Path:
    """The user's ``--metadata-file`` if given (then it is read there), else ours, added."""
    user = _flag_values(rest, {"--metadata-file"})
    if user:
        return (cwd / user[-1]).resolve()
    ours = workdir / "metadata.json"
    added += ["--metadata-file", str(ours)]
    return ours


def _local_cache_dirs(values: Sequence[str], cwd: Path, key: str = "dest") -> list[Path]:
    dirs = []
    for value in values:
        attrs = parse_csv(value)
        if attrs.get("type") == "local" and attrs.get(key):
            dirs.append((cwd / attrs[key]).resolve())
    return dirs


def _split_docker(argv: Sequence[str]) -> tuple[list[str], int, str | None]:
    """Skip the docker CLI's global options; returns (argv, index of the command, --context)."""
    i = 1
    context = None
    while i < len(argv) and argv[i].startswith("-"):
        tok = argv[i]
        name = tok.partition("=")[0]
        if name in ("--context", "-c"):
            context = tok.partition("=")[2] or (argv[i + 1] if i + 1 < len(argv) else None)
        if tok in _DOCKER_GLOBAL_VALUE:
            i += 2
        else:
            i += 1
    return list(argv), i, context


def prepare(
    argv: Sequence[str],
    workdir: Path,
    *,
    cwd: Path | None = None,
    cache_export: bool = True,
    cache_base: Path | None = None,
) -> BuildCommand:
    """Classify ``argv`` and build the command cachetrace will run.

    ``workdir`` is a private temporary directory for the metadata file; the cache export goes
    to ``cache_base`` (a persistent per-builder directory) or, without one, into ``workdir``.
    Raises ``UsageError`` for a command cachetrace cannot record.
    """
    if not argv:
        raise UsageError("record needs a build command after --, e.g. `-- docker buildx build .`")
    here = cwd or Path.cwd()
    prog = os.path.basename(argv[0])
    if prog == "buildctl":
        return _prepare_buildctl(list(argv), workdir, here, cache_export, cache_base)
    if prog not in ("docker", "docker.exe"):
        raise UsageError(
            f"cannot record {argv[0]!r}: use `docker buildx build`, `docker build`, "
            "`docker buildx bake` or `buildctl build`"
        )
    args, i, context = _split_docker(argv)
    words = args[i:]
    builder: str | None = None
    if words[:1] == ["buildx"]:
        j = 1
        while j < len(words) and words[j].startswith("-"):
            name, sep, val = words[j].partition("=")
            if name == "--builder":
                builder = val if sep else (words[j + 1] if j + 1 < len(words) else None)
                j += 1 if sep else 2
            else:
                j += 1
        sub = words[j] if j < len(words) else ""
        if sub in ("build", "b"):
            return _prepare_build(
                args,
                i + j + 1,
                CommandKind.BUILDX_BUILD,
                workdir,
                here,
                cache_export,
                builder,
                context,
                cache_base,
            )
        if sub == "bake":
            return _prepare_bake(args, i + j + 1, workdir, here, cache_export, builder, context)
        raise UsageError(f"cannot record `docker buildx {sub}`: only build and bake run builds")
    if words[:1] == ["build"]:
        return _prepare_build(
            args,
            i + 1,
            CommandKind.DOCKER_BUILD,
            workdir,
            here,
            cache_export,
            None,
            context,
            cache_base,
        )
    if words[:2] == ["image", "build"]:
        return _prepare_build(
            args,
            i + 2,
            CommandKind.DOCKER_BUILD,
            workdir,
            here,
            cache_export,
            None,
            context,
            cache_base,
        )
    raise UsageError(f"cannot record `{' '.join(argv[:3])}`: not a build command")


def _prepare_build(
    argv: list[str],
    at: int,
    kind: CommandKind,
    workdir: Path,
    cwd: Path,
    cache_export: bool,
    builder: str | None,
    context: str | None,
    cache_base: Path | None = None,
) -> BuildCommand:
    rest = argv[at:]
    builder = builder or next(iter(_flag_values(rest, {"--builder"})), None)
    added: list[str] = []
    metadata = _metadata_file(rest, cwd, workdir, added)
    cache_to = _flag_values(rest, {"--cache-to"})
    dirs = _local_cache_dirs(cache_to, cwd)
    note: str | None = None
    if not cache_export:
        note = "cache export disabled with --no-cache-export"
        dirs = []
    elif not dirs:
        ours = cache_base or workdir / "cache"
        added += ["--cache-to", f"type=local,dest={ours},mode=max"]
        dirs = [ours]
    platforms = tuple(
        p.strip() for v in _flag_values(rest, {"--platform"}) for p in v.split(",") if p.strip()
    )
    run_argv = tuple(argv[:at] + added + rest)
    return BuildCommand(
        kind=kind,
        argv=tuple(argv),
        run_argv=run_argv,
        added_flags=tuple(added),
        metadata_file=metadata,
        cache_dirs=tuple(dirs),
        cache_export_note=note,
        outputs=_outputs(rest, cwd),
        platforms=platforms,
        builder=builder,
        addr=None,
        docker_context=context,
        insert_at=at,
    )


def _prepare_bake(
    argv: list[str],
    at: int,
    workdir: Path,
    cwd: Path,
    cache_export: bool,
    builder: str | None,
    context: str | None,
) -> BuildCommand:
    """Bake: targets are known only from ``bake --print``; ``bake_cache_flags`` adds them."""
    rest = argv[at:]
    builder = builder or next(iter(_flag_values(rest, {"--builder"})), None)
    added: list[str] = []
    metadata = _metadata_file(rest, cwd, workdir, added)
    return BuildCommand(
        kind=CommandKind.BAKE,
        argv=tuple(argv),
        run_argv=tuple(argv[:at] + added + rest),
        added_flags=tuple(added),
        metadata_file=metadata,
        cache_dirs=(),
        cache_export_note=None if cache_export else "cache export disabled with --no-cache-export",
        outputs=(),
        platforms=(),
        builder=builder,
        addr=None,
        docker_context=context,
        insert_at=at,
    )


def with_bake_targets(
    cmd: BuildCommand, targets: dict[str, dict[str, object]], workdir: Path, cache_export: bool
) -> BuildCommand:
    """Add one local cache export per bake target (from ``bake --print``'s ``target`` map).

    A target whose own ``cache-to`` already writes a local export keeps it and is read there.
    ``--set T.cache-to+=…`` appends, so the user's cache-to entries stay.
    """
    added = list(cmd.added_flags)
    dirs: list[Path] = []
    for name in sorted(targets):
        spec = targets[name]
        raw = spec.get("cache-to") or []
        user = _local_cache_dirs([str(v) for v in raw] if isinstance(raw, list) else [], Path("/"))
        if user:
            dirs.extend(user)
        elif cache_export:
            ours = workdir / "cache" / name
            added += ["--set", f"{name}.cache-to+=type=local,dest={ours},mode=max"]
            dirs.append(ours)
    if len(added) > len(cmd.added_flags):
        # bake checks filesystem entitlements: grant exactly our private directory
        added += [f"--allow=fs.write={workdir}"]
    at = cmd.insert_at
    run_argv = tuple([*cmd.argv[:at], *added, *cmd.argv[at:]])
    return BuildCommand(
        kind=cmd.kind,
        argv=cmd.argv,
        run_argv=run_argv,
        added_flags=tuple(added),
        metadata_file=cmd.metadata_file,
        cache_dirs=tuple(dirs),
        cache_export_note=cmd.cache_export_note,
        outputs=cmd.outputs,
        platforms=cmd.platforms,
        builder=cmd.builder,
        addr=cmd.addr,
        docker_context=cmd.docker_context,
        insert_at=at,
        bake_targets=tuple(sorted(targets)),
    )


def _prepare_buildctl(
    argv: list[str], workdir: Path, cwd: Path, cache_export: bool, cache_base: Path | None
) -> BuildCommand:
    i = 1
    addr: str | None = None
    while i < len(argv) and argv[i].startswith("-"):
        name, sep, val = argv[i].partition("=")
        if name == "--addr":
            addr = val if sep else (argv[i + 1] if i + 1 < len(argv) else None)
        i += 1 if sep or name not in _BUILDCTL_GLOBAL_VALUE else 2
    if i >= len(argv) or argv[i] != "build":
        raise UsageError("cannot record this buildctl command: only `buildctl build` runs builds")
    at = i + 1
    rest = argv[at:]
    added: list[str] = []
    metadata = _metadata_file(rest, cwd, workdir, added)
    dirs = _local_cache_dirs(_flag_values(rest, {"--export-cache"}), cwd)
    note = None
    if not cache_export:
        note, dirs = "cache export disabled with --no-cache-export", []
    elif not dirs:
        ours = cache_base or workdir / "cache"
        added += ["--export-cache", f"type=local,dest={ours},mode=max"]
        dirs = [ours]
    platforms = tuple(
        p
        for v in _flag_values(rest, {"--opt"})
        if v.startswith("platform=")
        for p in v.partition("=")[2].split(",")
        if p
    )
    return BuildCommand(
        kind=CommandKind.BUILDCTL,
        argv=tuple(argv),
        run_argv=tuple(argv[:at] + added + rest),
        added_flags=tuple(added),
        metadata_file=metadata,
        cache_dirs=tuple(dirs),
        cache_export_note=note,
        outputs=_outputs(rest, cwd),
        platforms=platforms,
        builder=None,
        addr=addr,
        docker_context=None,
        insert_at=at,
    )
