"""The typed facade over one build's joined graph: the questions the rules ask.

:class:`BuildGraph` wraps the networkx ``MultiDiGraph`` that
:func:`cachetrace.graph.build.build_graph` makes, so callers never touch networkx; node ids
and the join statistics live here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from cachetrace.errors import GraphError
from cachetrace.graph.join import JoinResult
from cachetrace.graph.model import (
    DockerfileLocation,
    EdgeKind,
    Join,
    JoinMethod,
    LayerNode,
    NodeKind,
    OutputNode,
    RecordNode,
    SharedKey,
    StepNode,
)
from cachetrace.model.build import Vertex
from cachetrace.model.cache import CacheRecord
from cachetrace.model.capture import Build
from cachetrace.model.llb import OpKind
from cachetrace.model.outputs import BinaryInfo, LayerScan
from cachetrace.outputs.filesystem import FinalFilesystem, apply_layers

__all__ = [
    "BuildGraph",
    "JoinStats",
    "StepRef",
    "layer_node_id",
    "output_node_id",
    "record_node_id",
    "step_node_id",
]

StepRef = StepNode | str


def step_node_id(platform: str, step_id: str) -> str:
    """``step4`` for a single-platform build, ``linux/arm64/step4`` otherwise."""
    return f"{platform}/{step_id}" if platform else step_id


def record_node_id(index: int, content_key: bool = False) -> str:
    return f"content/{index}" if content_key else f"record/{index}"


def layer_node_id(blob: str) -> str:
    return f"layer/{blob}"


def output_node_id(platform: str) -> str:
    return f"output/{platform}" if platform else "output"


@dataclass(frozen=True, slots=True)
class JoinStats:
    """How the steps of a build were joined to its cache export."""

    steps: int
    exec_steps: int
    exact: int  # exec steps joined by their recomputed key
    by_method: dict[JoinMethod, int]  # steps (any kind) by their best join
    records: int
    unmatched_records: int
    unmatched_steps: int

    def summary(self) -> str:
        methods = ", ".join(f"{m.value} {n}" for m, n in self.by_method.items())
        return (
            f"{self.exact}/{self.exec_steps} exec steps joined by exact key; "
            f"steps by method: {methods}; "
            f"unmatched: {self.unmatched_steps} steps, {self.unmatched_records}/{self.records} "
            "records"
        )


class BuildGraph:
    """The joined graph of one build. ``graph`` is the networkx MultiDiGraph itself."""

    def __init__(
        self,
        graph: nx.MultiDiGraph,
        build: Build,
        join: JoinResult,
        order: tuple[str, ...],
        results: dict[str, tuple[str, int]],
    ) -> None:
        self.graph = graph
        self.build = build
        self.join = join
        self._order = order
        self._results = results
        self._records = build.cache.records if build.cache else ()
        self._scans: dict[str, LayerScan] = {
            lo.descriptor.digest: lo.scan for lo in build.layers if lo.scan is not None
        }

    # nodes
    def _id(self, step: StepRef) -> str:
        node = step if isinstance(step, str) else step_node_id(step.platform, step.id)
        if node not in self.graph or self.graph.nodes[node]["kind"] is not NodeKind.STEP:
            raise GraphError(f"no step {node!r} in the graph")
        return node

    def node_id(self, step: StepNode) -> str:
        return step_node_id(step.platform, step.id)

    def step(self, node: StepRef) -> StepNode:
        data: StepNode = self.graph.nodes[self._id(node)]["data"]
        return data

    def steps(self, kind: OpKind | None = None, platform: str | None = None) -> list[StepNode]:
        """Steps in build order (inputs first), optionally of one op kind and platform."""
        out: list[StepNode] = []
        for node in self._order:
            data: StepNode = self.graph.nodes[node]["data"]
            if kind is not None and data.kind is not kind:
                continue
            if platform is not None and data.platform != platform:
                continue
            out.append(data)
        return out

    def exec_steps(self, platform: str | None = None) -> list[StepNode]:
        return self.steps(OpKind.EXEC, platform)

    def platforms(self) -> list[str]:
        """The provenance platforms: ``["linux/amd64", "linux/arm64"]``, or ``[""]``."""
        return sorted(self.build.provenance)

    def inputs_of(self, step: StepRef) -> list[tuple[StepNode, int]]:
        """(parent step, its output) per input, in input order."""
        edges = sorted(
            (d["index"], parent, d["output"])
            for parent, _, d in self.graph.in_edges(self._id(step), data=True)
            if d["kind"] is EdgeKind.INPUT_OF
        )
        return [(self.step(parent), out) for _, parent, out in edges]

    def users_of(self, step: StepRef) -> list[StepNode]:
        return [
            self.step(child)
            for _, child, d in self.graph.out_edges(self._id(step), data=True)
            if d["kind"] is EdgeKind.INPUT_OF
        ]

    def result_step(self, platform: str) -> StepNode | None:
        """The step whose output is the platform's result (the no-op's input)."""
        result = self._results.get(platform)
        return self.step(result[0]) if result is not None else None

    # records
    def joins_of(self, step: StepRef) -> list[tuple[CacheRecord, Join]]:
        """The records tied to the step, best join first (content-checksum keys excluded)."""
        return [(self._records[j.record], j) for j in self.join.joins.get(self._id(step), ())]

    def records_of(self, step: StepRef) -> list[tuple[CacheRecord, JoinMethod]]:
        return [(record, j.method) for record, j in self.joins_of(step)]

    def content_keys_of(self, step: StepRef) -> list[tuple[CacheRecord, Join]]:
        """Content-checksum keys of (parts of) the step's output that later steps read."""
        return [(self._records[j.record], j) for j in self.join.content.get(self._id(step), ())]

    def steps_of_record(self, index: int) -> list[StepNode]:
        node = record_node_id(index, index in self.join.content_keys)
        return [
            self.step(src)
            for src, _, d in self.graph.in_edges(node, data=True)
            if d["kind"] is EdgeKind.KEYED_BY
        ]

    def record(self, index: int) -> RecordNode:
        data: RecordNode = self.graph.nodes[record_node_id(index, index in self.join.content_keys)][
            "data"
        ]
        return data

    def unmatched_records(self) -> list[CacheRecord]:
        return [self._records[i] for i in self.join.unmatched_records]

    def alternates_of(self, step: StepRef) -> list[CacheRecord]:
        """Unmatched records at the step's place: linked from its inputs' records as its own
        record is, under another key (what an earlier build keyed this step by)."""
        return [self._records[i] for i in self.join.alternates.get(self._id(step), ())]

    def unmatched_note(self, index: int) -> str:
        """What an unmatched record is, as far as the export tells ("" if it is matched)."""
        return self.join.record_notes.get(index, "")

    def unmatched_steps(self) -> list[tuple[StepNode, str]]:
        """Steps that should have a record and have none, with the reason."""
        return [
            (self.step(node), self.join.unmatched_steps[node])
            for node in self._order
            if node in self.join.unmatched_steps
        ]

    def stats(self) -> JoinStats:
        execs = self.exec_steps()
        exact = sum(
            1
            for s in execs
            if any(
                j.method is JoinMethod.EXACT_KEY for j in self.join.joins.get(self.node_id(s), ())
            )
        )
        return JoinStats(
            steps=len(self._order),
            exec_steps=len(execs),
            exact=exact,
            by_method=self.join.method_counts(),
            records=len(self._records),
            unmatched_records=len(self.join.unmatched_records),
            unmatched_steps=len(self.join.unmatched_steps),
        )

    # layers and outputs
    def layer(self, blob: str) -> LayerNode:
        data: LayerNode = self.graph.nodes[layer_node_id(blob)]["data"]
        return data

    def layers_of(self, step: StepRef, output: int = 0) -> list[LayerNode]:
        """The layer chain of a step output, base first (empty if provenance gave none)."""
        chain = self.step(step).layer_chains.get(output, ())
        return [self.layer(blob) for blob in chain]

    def produced_layers(self, step: StepRef) -> list[LayerNode]:
        """The layers the step added on top of its inputs (all of an image source's)."""
        return [
            self.graph.nodes[target]["data"]
            for _, target, d in self.graph.out_edges(self._id(step), data=True)
            if d["kind"] is EdgeKind.PRODUCED
        ]

    def binaries_of(self, step: StepRef) -> list[BinaryInfo]:
        """Executables in the layers the step produced."""
        return [b for layer in self.produced_layers(step) for b in layer.binaries]

    def output(self, platform: str) -> OutputNode | None:
        node = output_node_id(platform)
        return self.graph.nodes[node]["data"] if node in self.graph else None

    def output_files(self, platform: str) -> FinalFilesystem | None:
        """The platform result's filesystem: the exported local output when scanned, else the
        result step's layer chain applied in order; None when neither was scanned."""
        single = len(self.build.provenance) == 1
        for export in self.build.exports:
            if export.scan is None:
                continue
            if single or (export.platform or "") == platform:
                return apply_layers([export.scan.entries])
        result = self._results.get(platform)
        if result is None:
            return None
        node, output = result
        chain = self.step(node).layer_chains.get(output, ())
        scans = [self._scans.get(blob) for blob in chain]
        if not chain or any(s is None for s in scans):
            return None
        return apply_layers(s.entries for s in scans if s is not None)

    # steps and places
    def vertex_of(self, step: StepRef) -> Vertex | None:
        return self.step(step).vertex

    def dockerfile_location(self, step: StepRef) -> DockerfileLocation | None:
        return self.step(step).location

    def steps_sharing_key(self) -> list[SharedKey]:
        """Steps of different platforms that are one vertex or joined to one record."""
        groups: dict[str, list[str]] = {}
        for node in self._order:
            data: StepNode = self.graph.nodes[node]["data"]
            if not data.platform or data.kind is OpKind.NONE:
                continue
            if data.digest:
                groups.setdefault(data.digest, []).append(node)
            for j in self.join.joins.get(node, ()):
                groups.setdefault(f"record/{j.record}", []).append(node)
        out: list[SharedKey] = []
        seen: set[tuple[str, ...]] = set()
        shared_nodes = {
            n for nodes in groups.values() if len(self._platforms_of(nodes)) > 1 for n in nodes
        }
        for key, nodes in groups.items():
            platforms = self._platforms_of(nodes)
            if len(platforms) < 2 or tuple(nodes) in seen:
                continue
            seen.add(tuple(nodes))
            reaches = tuple(p for p in platforms if self._reaches_result(nodes, p, shared_nodes))
            kind = self.step(nodes[0]).kind
            via = "vertex" if not key.startswith("record/") else self._method_to(nodes, key)
            out.append(SharedKey(key, tuple(nodes), platforms, kind, reaches, via))
        return out

    def _method_to(self, nodes: list[str], key: str) -> str:
        """The weakest join method by which ``nodes`` reached record ``key``."""
        index = int(key.removeprefix("record/"))
        methods = {j.method for n in nodes for j in self.join.joins.get(n, ()) if j.record == index}
        order = (JoinMethod.STRUCTURE, JoinMethod.LAYER_BLOB, JoinMethod.EXACT_KEY)
        return next(m.value for m in order if m in methods)

    def _platforms_of(self, nodes: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({self.step(n).platform for n in nodes}))

    def _reaches_result(self, nodes: list[str], platform: str, shared: set[str]) -> bool:
        """Whether the platform's copy of the step reaches its result through shared steps."""
        start = next((n for n in nodes if self.step(n).platform == platform), None)
        result = self._results.get(platform, ("", 0))[0]
        if start is None or not result:
            return False
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            if node == result:
                return True
            for child in self.users_of(node):
                child_id = self.node_id(child)
                if child_id in shared and child_id not in seen:
                    seen.add(child_id)
                    stack.append(child_id)
        return False

    def find_steps(self, spec: str) -> list[StepNode]:
        """Steps named by ``step5``, ``linux/arm64/step5``, ``Dockerfile:12``, ``12`` or a
        vertex digest (prefix, with or without ``sha256:``)."""
        spec = spec.strip()
        if spec in self.graph and self.graph.nodes[spec]["kind"] is NodeKind.STEP:
            return [self.step(spec)]
        if re.fullmatch(r"step\d+", spec):
            return [s for s in self.steps() if s.id == spec]
        m = re.fullmatch(r"(?:(?P<file>.+):)?(?P<line>\d+)", spec)
        if m is not None and m.group("file") != "sha256":
            line = int(m.group("line"))
            at_line = [
                s
                for s in self.steps()
                if s.location is not None
                and s.location.line <= line <= s.location.end_line
                and (m.group("file") is None or s.location.filename == m.group("file"))
            ]
            if at_line or m.group("file") is not None:
                return at_line
            # a bare number that is no step's line: maybe an all-decimal digest prefix
        hexpart = spec.removeprefix("sha256:").lower()
        if len(hexpart) >= 4 and re.fullmatch(r"[0-9a-f]+", hexpart):
            return [
                s
                for s in self.steps()
                if s.digest is not None and s.digest.removeprefix("sha256:").startswith(hexpart)
            ]
        return []

    def neighbourhood(self, steps: Iterable[StepRef]) -> nx.MultiDiGraph:
        """The steps with their inputs, users, records, content keys, layers and outputs."""
        keep: set[str] = set()
        for step in steps:
            node = self._id(step)
            keep.add(node)
            for _, target, d in self.graph.out_edges(node, data=True):
                keep.add(target)
                if d["kind"] is EdgeKind.KEYED_BY:
                    keep.update(
                        t
                        for _, t, dd in self.graph.out_edges(target, data=True)
                        if dd["kind"] in (EdgeKind.LINK, EdgeKind.PRODUCED)
                    )
            keep.update(src for src, _ in self.graph.in_edges(node))
        sub: nx.MultiDiGraph = self.graph.subgraph(keep).copy()
        return sub
