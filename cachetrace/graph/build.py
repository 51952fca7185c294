"""Build the joined graph of one build of a capture, and the typed facade the analyser reads.

:func:`build_graph` puts into one networkx ``MultiDiGraph`` (kinds in
:mod:`cachetrace.graph.model`): a step node per provenance step per platform (its op, Dockerfile
location and stage, status vertex, layer chains, recomputed exec keys), the cache export's
records and content-checksum keys joined to the steps (:mod:`cachetrace.graph.join`), the layers
(provenance chains and cache-export layers, with what their scans found) and the exported
outputs. :class:`BuildGraph` answers the questions the rules ask without the caller touching
networkx.

The build is linear: every lookup goes through a dict keyed by digest, step id or blob.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Iterator

import networkx as nx

from cachetrace.errors import GraphError
from cachetrace.graph.exec_key import exec_cache_payload, record_digest
from cachetrace.graph.facade import (
    BuildGraph,
    JoinStats,
    StepRef,
    layer_node_id,
    output_node_id,
    record_node_id,
    step_node_id,
)
from cachetrace.graph.join import JoinResult, JoinStep, join_records
from cachetrace.graph.model import (
    DockerfileLocation,
    EdgeKind,
    LayerNode,
    NodeKind,
    OutputNode,
    RecordNode,
    StepNode,
)
from cachetrace.model.build import Vertex
from cachetrace.model.cache import CacheExport
from cachetrace.model.capture import Build, Capture, ExportedOutput, LayerOutput
from cachetrace.model.llb import OpKind, Provenance, SourceFile, Step
from cachetrace.model.oci import Platform

__all__ = ["BuildGraph", "JoinStats", "StepRef", "build_graph", "select_build", "step_node_id"]


# --- Dockerfile stages -------------------------------------------------------------------

_FROM = re.compile(r"^\s*FROM\s+(?P<rest>.*)$", re.IGNORECASE)


def dockerfile_stages(text: str) -> list[tuple[int, str]]:
    """(first line, stage name) of every ``FROM``; unnamed stages are ``stage-N`` as BuildKit
    names them. Continuation lines (``\\``) belong to their instruction's first line."""
    stages: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        logical = lines[i]
        while logical.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            logical = logical.rstrip()[:-1] + " " + lines[i]
        i += 1
        m = _FROM.match(logical)
        if m is None:
            continue
        words = [w for w in m.group("rest").split() if not w.startswith("--")]
        name = f"stage-{len(stages)}"
        if len(words) >= 3 and words[1].lower() == "as":
            name = words[2]
        stages.append((start + 1, name))
    return stages


def _stage_at(stages: list[tuple[int, str]], line: int) -> str | None:
    found: str | None = None
    for first, name in stages:
        if first > line:
            break
        found = name
    return found


def _location(
    step: Step, sources: tuple[SourceFile, ...], lines: list[list[str]]
) -> DockerfileLocation | None:
    """The step's earliest instruction: its first line and the lines contiguous with it (a
    RUN with continuation lines comes as one range per line; a base image two stages share
    names both FROM lines, in separate locations)."""
    spans: list[tuple[int, int, int]] = []  # (source, start, end)
    for loc in step.locations:
        if 0 <= loc.source_index < len(sources):
            for r in loc.ranges:
                spans.append((loc.source_index, r.start.line, max(r.start.line, r.end.line)))
    if not spans:
        return None
    spans.sort()
    src, start, end = spans[0]
    for other_src, other_start, other_end in spans[1:]:
        if other_src == src and other_start <= end + 1:
            end = max(end, other_end)
    text = "\n".join(lines[src][start - 1 : end])
    return DockerfileLocation(sources[src].filename, start, text, end)


# --- building ---------------------------------------------------------------------------


def select_build(capture: Capture, build: int | str = 0) -> Build:
    """A build of the capture by position or by (a unique prefix of) its ref."""
    if not capture.builds:
        raise GraphError("the capture holds no build")
    if isinstance(build, int):
        if not 0 <= build < len(capture.builds):
            raise GraphError(f"no build {build}: the capture holds {len(capture.builds)}")
        return capture.builds[build]
    if build.isdigit() and int(build) < len(capture.builds):
        return capture.builds[int(build)]
    ref = build.rsplit("/", 1)[-1]  # buildx's "<builder>/<node>/<ref>" form too
    found = [b for b in capture.builds if b.ref == ref] or [
        b for b in capture.builds if b.ref.startswith(ref)
    ]
    if len(found) != 1:
        what = "no build" if not found else f"{len(found)} builds"
        raise GraphError(f"{what} with ref {build!r} in the capture")
    return found[0]


def _platform_spec(p: Platform | None) -> str:
    return p.spec if p is not None else ""


def _layer_outputs(provenance: Provenance) -> dict[str, set[int]]:
    """Step id -> the outputs ``Provenance.layers`` names (``"step3:0"``), in one pass."""
    outs: dict[str, set[int]] = {}
    for key in provenance.layers:
        step_id, sep, out = key.partition(":")
        if sep and out.isdigit():
            outs.setdefault(step_id, set()).add(int(out))
    return outs


def _outputs_of(step: Step, named: dict[str, set[int]]) -> list[int]:
    outs = {0} if step.op.kind is not OpKind.NONE else set()
    if step.op.exec is not None:
        outs = {m.output for m in step.op.exec.mounts if m.output >= 0} or {0}
    return sorted(outs | named.get(step.id, set()))


# What ``cachetrace.capture_io.redact`` writes in place of a secret-looking value (not imported:
# the graph stays free of the capture writer). A hashed payload holding it is not the one
# BuildKit hashed; a redacted value outside the key (proxy env) does not matter. Go's JSON
# escapes ``<`` and ``>``, hence the form searched for.
REDACTED = "<redacted>"
_REDACTED_IN_PAYLOAD = REDACTED.replace("<", "\\u003c").replace(">", "\\u003e").encode()


def _exec_keys(step: Step, default: Platform | None) -> tuple[dict[int, str], str]:
    exec_op = step.op.exec
    if exec_op is None:
        return {}, ""
    outputs = sorted({m.output for m in exec_op.mounts if m.output >= 0}) or [0]
    try:
        payload = exec_cache_payload(step.op.raw, default_platform=default)
    except GraphError as exc:
        return {}, str(exc)
    if _REDACTED_IN_PAYLOAD in payload:
        return {}, "the capture redacted part of this op: its key cannot be recomputed"
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()  # = exec_cache_digest
    return {out: record_digest(digest, out) for out in outputs}, ""


def build_graph(capture: Capture, build: int | str = 0) -> BuildGraph:
    """The joined graph of build ``build`` (index or ref) of ``capture``."""
    b = select_build(capture, build)
    if not b.provenance:
        reasons = "; ".join(
            m.reason.removeprefix(f"no provenance for build {b.ref}: ")
            for m in b.missing
            if m.part == "provenance"
        )
        raise GraphError(f"build {b.ref} has no provenance: {reasons or 'not recorded'}")
    # The build allocates many small containers and frees none: with the cyclic collector on,
    # each generation-2 pass walks the whole loaded capture, which makes a large build
    # superlinear (2x per step at 10k steps). Nothing built here forms a garbage cycle.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _Builder(b).run()
    finally:
        if paused:
            gc.enable()


class _Builder:
    def __init__(self, build: Build) -> None:
        self.b = build
        self.g: nx.MultiDiGraph = nx.MultiDiGraph()
        self.vertices: dict[str, Vertex] = {v.digest: v for v in build.vertices}
        self.scans: dict[str, LayerOutput] = {}
        for lo in build.layers:
            if lo.descriptor.digest not in self.scans or lo.scan is not None:
                self.scans[lo.descriptor.digest] = lo
        self.cache_layers = (
            {layer.blob: layer for layer in build.cache.layers} if build.cache else {}
        )
        self.media: dict[str, tuple[str, int | None]] = {}
        self.order: list[str] = []
        self.join_steps: list[JoinStep] = []
        self.results: dict[str, tuple[str, int]] = {}  # platform -> (result step, output)
        # one vertex in several platforms' provenance: its exec key is computed once
        self.key_memo: dict[str, tuple[dict[int, str], str]] = {}

    def run(self) -> BuildGraph:
        for platform in sorted(self.b.provenance):
            self._add_steps(platform, self.b.provenance[platform])
        self._add_layers()
        join = self._add_cache(self.b.cache)
        self._add_outputs()
        return BuildGraph(self.g, self.b, join, tuple(self.order), dict(self.results))

    def _add_steps(self, platform: str, p: Provenance) -> None:
        g = self.g
        stages = [dockerfile_stages(s.text) for s in p.sources]
        lines = [s.text.splitlines() for s in p.sources]
        default: Platform | None = None
        if p.request.builder_platform:
            try:
                default = Platform.parse(p.request.builder_platform)
            except ValueError:
                default = None
        ids: dict[str, str] = {}
        named_outputs = _layer_outputs(p)
        for step in p.steps:
            node = step_node_id(platform, step.id)
            ids[step.id] = node
            location = _location(step, p.sources, lines)
            stage = None
            if location is not None:
                src = next(
                    (i for i, s in enumerate(p.sources) if s.filename == location.filename), 0
                )
                stage = _stage_at(stages[src], location.line) if src < len(stages) else None
            chains: dict[int, tuple[str, ...]] = {}
            for out in _outputs_of(step, named_outputs):
                found = p.layers.get(f"{step.id}:{out}", ())
                if found:
                    chain = found[0]
                    chains[out] = tuple(d.digest for d in chain)
                    for d in chain:
                        self.media.setdefault(d.digest, (d.media_type, d.size))
            if step.digest is None:
                keys, key_error = _exec_keys(step, default)
            else:
                if step.digest not in self.key_memo:
                    self.key_memo[step.digest] = _exec_keys(step, default)
                keys, key_error = self.key_memo[step.digest]
            data = StepNode(
                id=step.id,
                platform=platform,
                step=step,
                op_platform=_platform_spec(step.op.platform),
                location=location,
                stage=stage,
                vertex=self.vertices.get(step.digest) if step.digest else None,
                layer_chains=chains,
                exec_keys=keys,
                key_error=key_error,
            )
            g.add_node(node, kind=NodeKind.STEP, data=data)
            self.order.append(node)
            inputs: list[tuple[str, int]] = []
            for index, inp in enumerate(step.inputs):
                parent = ids.get(inp.step)
                if parent is None:
                    raise GraphError(f"{node}: input {inp.step} is not an earlier step")
                g.add_edge(parent, node, kind=EdgeKind.INPUT_OF, output=inp.output, index=index)
                inputs.append((parent, inp.output))
            if step.op.kind is OpKind.NONE and step.inputs:
                self.results[platform] = (ids[step.inputs[0].step], step.inputs[0].output)
            self.join_steps.append(
                JoinStep(
                    node=node,
                    kind=step.op.kind,
                    source_scheme=step.op.source.scheme if step.op.source else "",
                    inputs=tuple(inputs),
                    exec_keys=keys,
                    layer_chains=chains,
                )
            )
        if p.steps and p.steps[-1].op.kind is not OpKind.NONE:
            self.results.setdefault(platform, (ids[p.steps[-1].id], 0))

    def _layer(self, blob: str) -> str:
        node = layer_node_id(blob)
        if node in self.g:
            return node
        scan_out = self.scans.get(blob)
        scan = scan_out.scan if scan_out is not None else None
        cache_layer = self.cache_layers.get(blob)
        media_type, size = self.media.get(blob, ("", None))
        if scan_out is not None:
            media_type, size = scan_out.descriptor.media_type, scan_out.descriptor.size
        if cache_layer is not None:
            media_type = media_type or cache_layer.media_type
            size = size if size is not None else cache_layer.size
        diff_id = scan.diff_id if scan else (cache_layer.diff_id if cache_layer else "")
        data = LayerNode(
            blob=blob,
            media_type=media_type,
            size=size,
            diff_id=diff_id,
            content_digest=scan.content_digest if scan else "",
            files=len(scan.entries) if scan else None,
            binaries=scan.binaries if scan else (),
            in_cache_export=cache_layer is not None,
        )
        self.g.add_node(node, kind=NodeKind.LAYER, data=data)
        return node

    def _add_layers(self) -> None:
        g = self.g
        parents: set[tuple[str, str]] = set()
        for node in self.order:
            step: StepNode = g.nodes[node]["data"]
            below: set[str] = set()
            for parent, out in ((p, d["output"]) for p, _, d in self._in_edges(node)):
                below.update(g.nodes[parent]["data"].layer_chains.get(out, ()))
            for chain in step.layer_chains.values():
                prev: str | None = None
                for blob in chain:
                    layer = self._layer(blob)
                    if prev is not None and (layer, prev) not in parents:
                        parents.add((layer, prev))
                        g.add_edge(layer, prev, kind=EdgeKind.PARENT)
                    prev = layer
                    if blob not in below and not g.has_edge(node, layer):
                        g.add_edge(node, layer, kind=EdgeKind.PRODUCED)
        if self.b.cache is not None:
            layers = self.b.cache.layers
            for cache_layer in layers:
                child = self._layer(cache_layer.blob)
                parent_index = cache_layer.parent
                if parent_index is not None and 0 <= parent_index < len(layers):
                    parent = self._layer(layers[parent_index].blob)
                    if (child, parent) not in parents:
                        parents.add((child, parent))
                        g.add_edge(child, parent, kind=EdgeKind.PARENT)

    def _in_edges(self, node: str) -> Iterator[tuple[str, str, dict[str, object]]]:
        for parent, child, data in self.g.in_edges(node, data=True):
            if data["kind"] is EdgeKind.INPUT_OF:
                yield parent, child, data

    def _add_cache(self, cache: CacheExport | None) -> JoinResult:
        if cache is None:
            return JoinResult({}, {}, frozenset(), (), {})
        g = self.g
        join = join_records(self.join_steps, cache)
        outputs: dict[int, set[int]] = {}
        for joins in (*join.joins.values(), *join.content.values()):
            for j in joins:
                outputs.setdefault(j.record, set()).add(j.output)
        for pos, record in enumerate(cache.records):
            content_key = pos in join.content_keys
            tops = [r.layer for r in record.results] + [
                c.layers[-1] for c in record.chains if c.layers
            ]
            result_blobs = tuple(cache.layers[t].blob for t in tops if 0 <= t < len(cache.layers))
            g.add_node(
                record_node_id(pos, content_key),
                kind=NodeKind.CONTENT_KEY if content_key else NodeKind.RECORD,
                data=RecordNode(
                    index=pos,
                    digest=record.digest,
                    outputs=tuple(sorted(outputs.get(pos, ()))),
                    result_layers=result_blobs,
                    slots=len(record.inputs),
                ),
            )
            for blob in result_blobs:
                g.add_edge(
                    record_node_id(pos, content_key), layer_node_id(blob), kind=EdgeKind.PRODUCED
                )
        for pos, record in enumerate(cache.records):
            source = record_node_id(pos, pos in join.content_keys)
            for slot, links in enumerate(record.inputs):
                for link in links:
                    if not 0 <= link.link < len(cache.records):
                        continue
                    target = record_node_id(link.link, link.link in join.content_keys)
                    g.add_edge(
                        source, target, kind=EdgeKind.LINK, slot=slot, selector=link.selector
                    )
        for node, joins in join.joins.items():
            for j in joins:
                g.add_edge(
                    node,
                    record_node_id(j.record, j.record in join.content_keys),
                    kind=EdgeKind.KEYED_BY,
                    join=j,
                )
        for node, joins in join.content.items():
            for j in joins:
                g.add_edge(node, record_node_id(j.record, True), kind=EdgeKind.KEYED_BY, join=j)
        return join

    def _add_outputs(self) -> None:
        platforms = set(self.b.provenance)
        for export in self.b.exports:
            platform = export.platform or ""
            if platform not in platforms and len(platforms) == 1:
                platform = next(iter(platforms))
            node = output_node_id(platform)
            self.g.add_node(node, kind=NodeKind.OUTPUT, data=_output_node(platform, export))
            result = self.results.get(platform)
            if result is not None:
                self.g.add_edge(result[0], node, kind=EdgeKind.EXPORTED)


def _output_node(platform: str, export: ExportedOutput) -> OutputNode:
    scan = export.scan
    return OutputNode(
        platform=platform,
        exporter=export.exporter,
        dest=export.dest,
        files=len(scan.entries) if scan else None,
        binaries=scan.binaries if scan else (),
        missing=export.missing,
    )
