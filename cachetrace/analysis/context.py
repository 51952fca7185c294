"""The joined view of one recorded build that the rules read.

Steps of every target platform with their status vertex and Dockerfile location, the layers
each step produced (by the first step whose layer chain holds them), each platform's final
filesystem with the step that last wrote every file, and exec steps grouped by Dockerfile
location across platforms (one group per ``RUN`` line; one or several vertices). Small pure
functions over the model; the rules never walk provenance themselves.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from cachetrace.errors import GraphError
from cachetrace.graph.build import BuildGraph, step_node_id
from cachetrace.graph.key_view import KeyView, key_view
from cachetrace.model.build import Vertex
from cachetrace.model.capture import Build, ExportedOutput, LayerOutput
from cachetrace.model.llb import ExecOp, Mount, MountType, OpKind, Provenance, Step
from cachetrace.model.outputs import BinaryInfo, FileEntry, FileType, LayerScan
from cachetrace.outputs.filesystem import FinalFilesystem, apply_layers

from .finding import SourceLocation, StepRef

__all__ = ["BuildContext", "FileOrigin", "PlatformView", "StepGroup", "StepView"]


@dataclass(frozen=True, slots=True)
class StepView:
    """One step of one target platform's build."""

    platform: str  # target platform spec ("linux/arm64")
    step: Step
    provenance: Provenance
    vertex: Vertex | None
    location: SourceLocation | None

    @property
    def exec(self) -> ExecOp | None:
        return self.step.op.exec

    @property
    def digest(self) -> str:
        return self.step.digest or ""

    @property
    def op_platform(self) -> str:
        p = self.step.op.platform
        return p.spec if p is not None else ""

    @property
    def name(self) -> str:
        if self.vertex is not None:
            return self.vertex.name
        if self.exec is not None:
            return "RUN " + " ".join(self.exec.meta.args)
        return self.step.op.kind.value

    def command(self) -> str:
        """The shell script of a ``/bin/sh -c`` exec, else its args joined."""
        if self.exec is None:
            return ""
        args = self.exec.meta.args
        if len(args) >= 3 and args[1] == "-c" and args[0].endswith("sh"):
            return args[2]
        return " ".join(args)

    def env(self) -> dict[str, str]:
        return self.exec.meta.env_dict() if self.exec is not None else {}

    def input_step(self, index: int) -> str | None:
        if 0 <= index < len(self.step.inputs):
            return self.step.inputs[index].step
        return None

    def key_view(self) -> KeyView | None:
        if self.exec is None:
            return None
        try:
            return key_view(self.step.op.raw, self.step.op.platform)
        except Exception:
            return None

    def ref(self, platforms: tuple[str, ...] = ()) -> StepRef:
        return StepRef(
            id=self.step.id,
            vertex=self.digest,
            name=self.name,
            platform=self.platform,
            platforms=platforms or (self.platform,),
            op_platform=self.op_platform,
        )


@dataclass(frozen=True, slots=True)
class FileOrigin:
    """A file of a final filesystem, the layer that last wrote it, and that layer's step."""

    entry: FileEntry
    binary: BinaryInfo | None
    step: StepView | None
    layer: str  # layer descriptor digest, or "export:<dest>"


@dataclass
class PlatformView:
    platform: str
    provenance: Provenance
    steps: dict[str, StepView]
    layer_producer: dict[str, str]  # layer digest -> step id that first holds it
    final_chain: tuple[str, ...]  # layer digests of the result, base first
    scans: dict[str, LayerScan]
    export: ExportedOutput | None

    def layers_of(self, step_id: str) -> tuple[LayerScan, ...]:
        """Scans of the layers this step produced (its own, not its inputs')."""
        return tuple(
            self.scans[d]
            for d, producer in self.layer_producer.items()
            if producer == step_id and d in self.scans
        )

    def binaries_of(self, step_id: str) -> tuple[BinaryInfo, ...]:
        return tuple(b for scan in self.layers_of(step_id) for b in scan.binaries)

    def entries_of(self, step_id: str) -> tuple[FileEntry, ...]:
        return tuple(e for scan in self.layers_of(step_id) for e in scan.entries)

    def chain_filesystem(self, step_id: str, output: int = 0) -> FinalFilesystem | None:
        """The filesystem of a step's output, when every layer of it was scanned."""
        chains = self.provenance.layers_of(step_id, output)
        if not chains:
            return None
        layers: list[tuple[FileEntry, ...]] = []
        for desc in chains[0]:
            scan = self.scans.get(desc.digest)
            if scan is None:
                return None
            layers.append(scan.entries)
        return apply_layers(layers)

    @cached_property
    def final_files(self) -> dict[str, FileOrigin]:
        """The result's files (regular files) with their origin.

        From the result's layer chain when every layer was scanned, else from the exported
        output of this platform (then the step is unknown).
        """
        out: dict[str, FileOrigin] = {}
        if self.final_chain and all(d in self.scans for d in self.final_chain):
            fs = self.final_filesystem
            for digest in self.final_chain:
                scan = self.scans[digest]
                bins = {b.path: b for b in scan.binaries}
                producer = self.steps.get(self.layer_producer.get(digest, ""))
                for e in scan.entries:
                    if e.type is FileType.FILE:
                        out[e.path] = FileOrigin(e, bins.get(e.path), producer, digest)
            if fs is not None:
                out = {
                    p: o for p, o in out.items() if fs.entry(p, follow_symlinks=False) == o.entry
                }
            return out
        if self.export is not None and self.export.scan is not None:
            bins = {b.path: b for b in self.export.scan.binaries}
            for e in self.export.scan.entries:
                if e.type is FileType.FILE:
                    out[e.path] = FileOrigin(
                        e, bins.get(e.path), self.attribute(e), f"export:{self.export.dest}"
                    )
        return out

    def result_step(self) -> str | None:
        steps = self.provenance.steps
        if steps and steps[-1].op.kind is OpKind.NONE and steps[-1].inputs:
            return steps[-1].inputs[0].step
        return None

    def attribute(self, entry: FileEntry) -> StepView | None:
        """The step of the result's stage that put ``entry`` (a file of the result) there,
        read from the ops when the layers do not say: a copy/mkfile whose destination is the
        path, an exec whose own layer holds it, or the stage's base image."""
        step_id = self.result_step()
        seen: set[str] = set()
        while step_id is not None and step_id not in seen:
            seen.add(step_id)
            view = self.steps.get(step_id)
            if view is None:
                return None
            op = view.step.op
            if op.kind is OpKind.SOURCE:
                return view
            if op.kind is OpKind.EXEC:
                if any(e.path == entry.path for e in self.entries_of(step_id)):
                    return view
                base = view.input_step(0)
            elif op.file is not None:
                base = None
                for action in op.file.actions:
                    dest = action.dest
                    name = posixpath.basename(action.src.rstrip("/"))
                    if dest == entry.path or (
                        dest.endswith("/") and entry.path == posixpath.join(dest, name)
                    ):
                        return view
                    if action.output == 0 and action.input >= 0:
                        base = view.input_step(action.input)
            else:
                return None
            step_id = base
        return None

    @cached_property
    def final_filesystem(self) -> FinalFilesystem | None:
        if self.final_chain and all(d in self.scans for d in self.final_chain):
            return apply_layers(self.scans[d].entries for d in self.final_chain)
        if self.export is not None and self.export.scan is not None:
            return apply_layers([self.export.scan.entries])
        return None

    def origin_of_content(self, sha256: str, before: str) -> StepView | None:
        """The first step (other than ``before``) whose own layers hold a file with this
        content: where a copied file was really made."""
        for step_id, view in self.steps.items():
            if step_id == before:
                continue
            for e in self.entries_of(step_id):
                if e.sha256 == sha256:
                    return view
        return None


@dataclass(frozen=True, slots=True)
class StepGroup:
    """The steps of one Dockerfile instruction across target platforms."""

    location: SourceLocation | None
    members: tuple[StepView, ...]
    platforms: tuple[str, ...] = field(default=())

    @property
    def first(self) -> StepView:
        return self.members[0]

    def vertices(self) -> dict[str, tuple[StepView, ...]]:
        """Members by vertex digest: one entry when every platform shares the vertex."""
        out: dict[str, list[StepView]] = {}
        for m in self.members:
            out.setdefault(m.digest, []).append(m)
        return {k: tuple(v) for k, v in out.items()}

    def ref(self) -> StepRef:
        return self.first.ref(self.platforms)


def _target_platform(key: str, prov: Provenance, build: Build) -> str:
    """The target platform of a provenance: its key, else what the request asked for, else
    the exporter's platform, else the builder's (a build without --platform)."""
    if key:
        return key
    if prov.result_platform is not None:
        return prov.result_platform.spec
    asked = [prov.request.frontend_attrs.get("platform", "")]
    if build.record is not None:
        asked.append(build.record.frontend_attrs.get("platform", ""))
    for platform in asked:
        if platform and "," not in platform:
            return platform
    exported = {e.platform for e in build.exports if e.platform}
    if len(exported) == 1:
        return exported.pop()
    return prov.request.builder_platform


class BuildContext:
    """Everything the rules need from one build.

    Built from the joined graph (:func:`cachetrace.graph.build.build_graph`): steps, their
    vertices and Dockerfile locations, the layers each step produced and each platform's
    result step come from the graph's facade. Built from a bare ``Build`` (no graph, e.g. a
    build the graph refuses), the same facts are read from the model directly.
    """

    def __init__(self, source: Build | BuildGraph) -> None:
        self.graph: BuildGraph | None = None
        if isinstance(source, BuildGraph):
            self.graph = source
            build = source.build
        else:
            build = source
        self.build = build
        self.vertices = {v.digest: v for v in build.vertices}
        self.scans: dict[str, LayerScan] = {}
        for layer in build.layers:
            if layer.scan is not None:
                self.scans[layer.descriptor.digest] = layer.scan
        self.platforms: dict[str, PlatformView] = {}
        for key, prov in build.provenance.items():
            platform = _target_platform(key, prov, build)
            if self.graph is not None:
                view = self._graph_platform_view(self.graph, key, platform, prov)
            else:
                view = self._platform_view(platform, prov, build.layers)
            self.platforms[platform] = view

    def _graph_platform_view(
        self, graph: BuildGraph, key: str, platform: str, prov: Provenance
    ) -> PlatformView:
        steps: dict[str, StepView] = {}
        producer: dict[str, str] = {}
        for node in graph.steps(platform=key):
            loc = node.location
            location = (
                SourceLocation(
                    loc.filename,
                    loc.line,
                    loc.end_line,
                    (loc.text.splitlines() or [""])[0].rstrip(),
                )
                if loc is not None
                else None
            )
            steps[node.id] = StepView(platform, node.step, prov, node.vertex, location)
            for layer in graph.produced_layers(node):
                producer.setdefault(layer.blob, node.id)
        final_chain: tuple[str, ...] = ()
        result = graph.result_step(key)
        if result is not None and prov.steps and prov.steps[-1].inputs:
            final_chain = result.layer_chains.get(prov.steps[-1].inputs[0].output, ())
        return PlatformView(
            platform, prov, steps, producer, final_chain, self.scans, self._export(platform)
        )

    def _export(self, platform: str) -> ExportedOutput | None:
        export = None
        for e in self.build.exports:
            fits = e.platform in (platform, None, "") or len(self.build.provenance) == 1
            if fits and (e.platform == platform or export is None):
                export = e
        return export

    @property
    def multi_platform(self) -> bool:
        return len(self.platforms) > 1

    def _location(self, prov: Provenance, step: Step) -> SourceLocation | None:
        for loc in step.locations:
            if not loc.ranges or not 0 <= loc.source_index < len(prov.sources):
                continue
            source = prov.sources[loc.source_index]
            line = min(r.start.line for r in loc.ranges)
            end = max(max(r.start.line, r.end.line) for r in loc.ranges)
            return SourceLocation(source.filename, line, end, source.line(line).rstrip())
        return None

    def _platform_view(
        self, platform: str, prov: Provenance, layers: tuple[LayerOutput, ...]
    ) -> PlatformView:
        steps = {
            s.id: StepView(
                platform, s, prov, self.vertices.get(s.digest or ""), self._location(prov, s)
            )
            for s in prov.steps
        }
        producer: dict[str, str] = {}
        for s in prov.steps:  # inputs come before their users: the first holder made it
            for ref, chains in prov.layers.items():
                if ref.partition(":")[0] != s.id:
                    continue
                for chain in chains:
                    for desc in chain:
                        producer.setdefault(desc.digest, s.id)
        final_chain: tuple[str, ...] = ()
        result = prov.steps[-1] if prov.steps else None
        if result is not None and result.op.kind is OpKind.NONE and result.inputs:
            src = result.inputs[0]
            chains = prov.layers_of(src.step, src.output)
            if chains:
                final_chain = tuple(d.digest for d in chains[0])
        return PlatformView(
            platform, prov, steps, producer, final_chain, self.scans, self._export(platform)
        )

    def step_views(self) -> Iterator[StepView]:
        for view in self.platforms.values():
            yield from view.steps.values()

    def groups(self, kind: OpKind | None = OpKind.EXEC) -> tuple[StepGroup, ...]:
        """Steps grouped by Dockerfile location (and op kind), in Dockerfile order."""
        grouped: dict[tuple[str, int, int, str], list[StepView]] = {}
        for view in self.step_views():
            if kind is not None and view.step.op.kind is not kind:
                continue
            loc = view.location
            if loc is None:
                continue
            grouped.setdefault(
                (loc.file, loc.line, loc.end_line, view.step.op.kind.value), []
            ).append(view)
        out = []
        for key in sorted(grouped):
            members = tuple(grouped[key])
            platforms = tuple(dict.fromkeys(m.platform for m in members))
            out.append(StepGroup(members[0].location, members, platforms))
        return tuple(out)

    def records_of(self, view: StepView) -> list[str]:
        """The cache export records joined to this step (from the graph), as evidence text:
        ``sha256:… (exact-key)``; empty without a graph or a cache export."""
        if self.graph is None:
            return []
        key = next((k for k, p in self.build.provenance.items() if p is view.provenance), None)
        if key is None:
            return []
        try:
            found = self.graph.records_of(step_node_id(key, view.step.id))
        except GraphError:
            return []
        return [f"{record.digest} ({method.value})" for record, method in found]

    def view(self, platform: str) -> PlatformView:
        return self.platforms[platform]

    def descendants(self, view: StepView) -> tuple[StepView, ...]:
        """Steps of the same platform that use this step's output, transitively."""
        pv = self.platforms[view.platform]
        found: set[str] = {view.step.id}
        out: list[StepView] = []
        for s in pv.provenance.steps:
            if any(i.step in found for i in s.inputs) and s.id not in found:
                found.add(s.id)
                out.append(pv.steps[s.id])
        return tuple(out)

    def mount_source(self, view: StepView, mount: Mount) -> StepView | None:
        """The step a bind mount's input comes from."""
        step_id = view.input_step(mount.input)
        if step_id is None:
            return None
        return self.platforms[view.platform].steps.get(step_id)


def root_mount(exec_op: ExecOp) -> Mount | None:
    for m in exec_op.mounts:
        if m.dest == "/" and m.type is MountType.BIND:
            return m
    return None
