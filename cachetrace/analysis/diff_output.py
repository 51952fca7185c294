"""What a step's output became between two builds: the files and executables that differ.

A step's output is the layers it added on top of its input, compared by content (a cache hit
can hand back another blob with the same content), file by file with sha256, and executable by
executable with the facts a cache should have kept apart (arch, GOARCH, Go module versions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from cachetrace.graph.build import BuildGraph
from cachetrace.graph.key_view import (
    ChangeKind,
)
from cachetrace.graph.model import LayerNode, StepNode
from cachetrace.model.outputs import BinaryInfo, FileEntry

__all__ = ["BinaryChange", "FileChange", "OutputDiff", "OutputState", "output_diff", "own_layers"]


class OutputState(str, Enum):
    SAME = "same"
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # a side's layers were not scanned, or the step produced none


@dataclass(frozen=True, slots=True)
class FileChange:
    """A path whose entry differs in the layers the step produced (sha256 of regular files)."""

    path: str
    kind: ChangeKind
    before: str = ""  # sha256, link target or file type; "" when absent
    after: str = ""


@dataclass(frozen=True, slots=True)
class BinaryChange:
    """A fact of an executable at one path that differs: ``GOARCH``, ``arch`` or a Go
    module (``module example.com/greet``) with its version before and after."""

    path: str
    what: str
    before: str = ""
    after: str = ""


@dataclass(frozen=True, slots=True)
class OutputDiff:
    state: OutputState
    files: tuple[FileChange, ...] = ()
    binaries: tuple[BinaryChange, ...] = ()
    note: str = ""  # why the state is unknown


def own_layers(graph: BuildGraph, step: StepNode) -> list[LayerNode]:
    """The layers the step added on top of the input it builds on: its output chain past the
    longest input chain that is a prefix of it (by content, since a cache hit can hand back
    another blob of the same content). ``produced_layers`` goes by blob and so gives a layer
    too many when the input's blob differs from the one the cached result was built on."""
    chain = graph.layers_of(step)
    if not chain:
        return graph.produced_layers(step)

    def same(x: LayerNode, y: LayerNode) -> bool:
        return x.blob == y.blob or (bool(x.content_digest) and x.content_digest == y.content_digest)

    prefix = -1
    for parent, out in graph.inputs_of(step):
        base = graph.layers_of(parent, out)
        if len(base) <= len(chain) and all(same(x, y) for x, y in zip(base, chain, strict=False)):
            prefix = max(prefix, len(base))
    if prefix < 0:
        return graph.produced_layers(step)
    return chain[prefix:]


def _entries(graph: BuildGraph, step: StepNode) -> dict[str, FileEntry] | None:
    files: dict[str, FileEntry] = {}
    for layer in own_layers(graph, step):
        scan = next(
            (
                lo.scan
                for lo in graph.build.layers
                if lo.descriptor.digest == layer.blob and lo.scan
            ),
            None,
        )
        if scan is None:
            return None
        for entry in scan.entries:
            files[entry.path] = entry
    return files


def _describe(entry: FileEntry) -> str:
    if entry.sha256:
        return entry.sha256
    if entry.link_target:
        return f"{entry.type.value} -> {entry.link_target}"
    return entry.type.value


def _fact(entry: FileEntry) -> tuple[object, ...]:
    return (entry.type, entry.sha256, entry.link_target, entry.mode)


def _file_changes(before: dict[str, FileEntry], after: dict[str, FileEntry]) -> list[FileChange]:
    changes: list[FileChange] = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is None and new is not None:
            changes.append(FileChange(path, ChangeKind.ADDED, after=_describe(new)))
        elif new is None and old is not None:
            changes.append(FileChange(path, ChangeKind.REMOVED, before=_describe(old)))
        elif old is not None and new is not None and _fact(old) != _fact(new):
            changes.append(FileChange(path, ChangeKind.CHANGED, _describe(old), _describe(new)))
    return changes


def _modules(binary: BinaryInfo) -> dict[str, str]:
    if binary.go is None:
        return {}
    mods = {d.path: (d.replace.version if d.replace else d.version) for d in binary.go.deps}
    if binary.go.main is not None and binary.go.main.version not in ("", "(devel)"):
        mods[binary.go.main.path] = binary.go.main.version
    return mods


def _binary_changes(a: Iterable[BinaryInfo], b: Iterable[BinaryInfo]) -> list[BinaryChange]:
    before = {x.path: x for x in a}
    after = {x.path: x for x in b}
    changes: list[BinaryChange] = []
    for path in sorted(before.keys() & after.keys()):
        old, new = before[path], after[path]
        if old.arch != new.arch:
            changes.append(BinaryChange(path, "arch", old.arch, new.arch))
        old_goarch = old.go.goarch if old.go else ""
        new_goarch = new.go.goarch if new.go else ""
        if old_goarch != new_goarch:
            changes.append(BinaryChange(path, "GOARCH", old_goarch, new_goarch))
        mods_a, mods_b = _modules(old), _modules(new)
        for mod in sorted(mods_a.keys() | mods_b.keys()):
            if mods_a.get(mod, "") != mods_b.get(mod, ""):
                changes.append(
                    BinaryChange(path, f"module {mod}", mods_a.get(mod, ""), mods_b.get(mod, ""))
                )
    return changes


def output_diff(ga: BuildGraph, sa: StepNode, gb: BuildGraph, sb: StepNode) -> OutputDiff:
    la, lb = own_layers(ga, sa), own_layers(gb, sb)
    if not la and not lb:
        return OutputDiff(OutputState.UNKNOWN, note="the step produced no layer")
    if any(not layer.content_digest for layer in (*la, *lb)):
        return OutputDiff(OutputState.UNKNOWN, note="a produced layer was not scanned")
    binaries = _binary_changes(
        (x for layer in la for x in layer.binaries), (x for layer in lb for x in layer.binaries)
    )
    if [x.content_digest for x in la] == [x.content_digest for x in lb] and not binaries:
        return OutputDiff(OutputState.SAME)
    ea, eb = _entries(ga, sa), _entries(gb, sb)
    files = _file_changes(ea, eb) if ea is not None and eb is not None else []
    return OutputDiff(OutputState.DIFFERENT, tuple(files), tuple(binaries))
