"""The joined graph as Graphviz DOT, Mermaid, or a documented JSON node-link form.

Each writer takes a :class:`~cachetrace.graph.build.BuildGraph` and, optionally, a part of its
graph (``BuildGraph.neighbourhood``) to write only that. Labels are built here from the typed
node data; the model never holds rendered text.

JSON form (``"format": "cachetrace.graph"``, ``"version": 1``)::

    {"format": "cachetrace.graph", "version": 1,
     "build": "<ref>", "platforms": ["linux/amd64", …],
     "stats": {"steps", "exec_steps", "exact", "by_method": {method: n}, "records",
               "unmatched_records", "unmatched_steps"},
     "nodes": [{"id", "kind", …}],   # fields by kind below
     "edges": [{"source", "target", "kind", …}]}

Node fields — ``step``: ``step``, ``platform``, ``op`` (op kind), ``op_platform``, ``digest``,
``location`` ({``file``, ``line``, ``end_line``, ``text``} or null), ``stage``, ``vertex``
({``name``, ``cached``, ``started``, ``completed``, ``error``} or null), ``exec_keys`` (output ->
recomputed record digest), ``key_error``, ``layer_chains`` (output -> blobs, base first),
``unmatched`` (why no record, or null). ``record`` / ``content-key``: ``index``, ``digest``,
``outputs``, ``result_layers``, ``slots``, ``unmatched`` (bool), ``note`` (what an unmatched
record is: another key at a step's place, a step's key over other inputs…). ``layer``: ``blob``,
``media_type``, ``size``, ``diff_id``, ``content_digest``, ``files``, ``in_cache_export``,
``binaries`` ([{``path``, ``format``, ``os``, ``arch``, ``go_version``}]). ``output``:
``platform``, ``exporter``, ``dest``, ``files``, ``binaries``, ``missing``.

Edge fields — ``input-of``: ``index``, ``output``. ``keyed-by``: ``method``, ``confidence``,
``output``, ``note``. ``link``: ``slot``, ``selector``. ``produced``, ``parent``, ``exported``:
none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import networkx as nx

from cachetrace.graph.build import BuildGraph
from cachetrace.graph.model import (
    EdgeKind,
    Join,
    JoinMethod,
    LayerNode,
    NodeKind,
    OutputNode,
    RecordNode,
    StepNode,
)
from cachetrace.model.outputs import BinaryInfo

__all__ = ["FORMATS", "JSON_FORMAT", "JSON_VERSION", "render", "to_dot", "to_json", "to_mermaid"]

FORMATS = ("dot", "mermaid", "json")
JSON_FORMAT = "cachetrace.graph"
JSON_VERSION = 1


def _short(digest: str, n: int = 12) -> str:
    algo, sep, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:n]}" if sep else digest[:n]


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.replace("\\\n", " ").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _arches(binaries: Iterable[BinaryInfo]) -> str:
    arches = sorted({b.arch for b in binaries})
    return ", ".join(arches)


def _label_lines(kind: NodeKind, data: Any, bg: BuildGraph, node: str) -> list[str]:
    if kind is NodeKind.STEP:
        step: StepNode = data
        head = step.id + (f" [{step.platform}]" if step.platform else "")
        where = str(step.location) if step.location else ""
        sub = " · ".join(
            x for x in (step.kind.value, where, f"stage {step.stage}" if step.stage else "") if x
        )
        lines = [head, sub]
        if step.location:
            lines.append(_one_line(step.location.text))
        elif step.op.source is not None:
            lines.append(_one_line(step.op.source.identifier.split("@")[0]))
        if step.vertex is not None:
            state = "error" if step.vertex.error else ("cached" if step.vertex.cached else "ran")
            lines.append(state)
        if node in bg.join.unmatched_steps:
            lines.append("no cache record")
        return lines
    if kind in (NodeKind.RECORD, NodeKind.CONTENT_KEY):
        rec: RecordNode = data
        title = "content key" if kind is NodeKind.CONTENT_KEY else "record"
        outs = "".join(f" @{o}" for o in rec.outputs)
        lines = [f"{title} {rec.index}{outs}", _short(rec.digest)]
        if rec.index in bg.join.unmatched_records:
            lines.append("unmatched")
        return lines
    if kind is NodeKind.LAYER:
        layer: LayerNode = data
        lines = [f"layer {_short(layer.blob)}"]
        if layer.files is not None:
            extra = ""
            if layer.binaries:
                extra = f" · {len(layer.binaries)} binaries ({_arches(layer.binaries)})"
            lines.append(f"{layer.files} files{extra}")
        return lines
    out: OutputNode = data
    lines = [f"output {out.platform or '(single platform)'}", f"{out.exporter}"]
    if out.binaries:
        lines.append(f"{len(out.binaries)} binaries ({_arches(out.binaries)})")
    return lines


def _edge_label(kind: EdgeKind, attrs: dict[str, Any]) -> str:
    if kind is EdgeKind.INPUT_OF:
        return f"input {attrs['index']}" + (f" (out {attrs['output']})" if attrs["output"] else "")
    if kind is EdgeKind.KEYED_BY:
        join: Join = attrs["join"]
        return f"{join.method.value} {join.confidence:g}"
    if kind is EdgeKind.LINK:
        sel = attrs["selector"]
        return f"slot {attrs['slot']}" + (f" sel {_short(sel, 8)}" if sel else "")
    return str(kind.value)


def _part(bg: BuildGraph, graph: nx.MultiDiGraph | None) -> nx.MultiDiGraph:
    return bg.graph if graph is None else graph


# --- DOT ---------------------------------------------------------------------------------

_DOT_SHAPE = {
    NodeKind.STEP: 'shape=box, style="rounded,filled", fillcolor="#eef3fb"',
    NodeKind.RECORD: 'shape=note, style=filled, fillcolor="#fdf6e3"',
    NodeKind.CONTENT_KEY: 'shape=hexagon, style=filled, fillcolor="#f3f3f3"',
    NodeKind.LAYER: 'shape=cylinder, style=filled, fillcolor="#eaf7ea"',
    NodeKind.OUTPUT: 'shape=folder, style=filled, fillcolor="#fbeaea"',
}
_DOT_JOIN_COLOR = {
    JoinMethod.EXACT_KEY: "#1a7f37",
    JoinMethod.LAYER_BLOB: "#0969da",
    JoinMethod.STRUCTURE: "#9a6700",
}


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(bg: BuildGraph, graph: nx.MultiDiGraph | None = None) -> str:
    """Graphviz DOT (``dot -Tsvg``): steps as boxes, records as notes, layers as cylinders."""
    g = _part(bg, graph)
    out = [
        f"digraph {_dot_str('cachetrace ' + bg.build.ref)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    for node, attrs in g.nodes(data=True):
        kind: NodeKind = attrs["kind"]
        label = "\n".join(_label_lines(kind, attrs["data"], bg, node))
        extra = ""
        if node in bg.join.unmatched_steps or (
            kind is NodeKind.RECORD and attrs["data"].index in bg.join.unmatched_records
        ):
            extra = ', color="#cf222e", penwidth=2'
        out.append(f"  {_dot_str(node)} [label={_dot_str(label)}, {_DOT_SHAPE[kind]}{extra}];")
    for src, dst, attrs in g.edges(data=True):
        edge: EdgeKind = attrs["kind"]
        style = ""
        if edge is EdgeKind.KEYED_BY:
            color = _DOT_JOIN_COLOR[attrs["join"].method]
            style = f', color="{color}", fontcolor="{color}", style=bold'
        elif edge in (EdgeKind.LINK, EdgeKind.PARENT):
            style = ", style=dashed"
        label = _dot_str(_edge_label(edge, attrs))
        out.append(f"  {_dot_str(src)} -> {_dot_str(dst)} [label={label}{style}];")
    out.append("}")
    return "\n".join(out) + "\n"


# --- Mermaid -----------------------------------------------------------------------------

_MERMAID_SHAPE = {
    NodeKind.STEP: ("[", "]"),
    NodeKind.RECORD: ("([", "])"),
    NodeKind.CONTENT_KEY: ("{{", "}}"),
    NodeKind.LAYER: ("[(", ")]"),
    NodeKind.OUTPUT: ("[/", "/]"),
}


def _mermaid_str(text: str) -> str:
    """A quoted Mermaid label: entity codes for the characters that end or break one."""
    replaced = (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("|", "#124;")
        .replace("`", "#96;")
    )
    return '"' + replaced.replace("\n", "<br/>") + '"'


def to_mermaid(bg: BuildGraph, graph: nx.MultiDiGraph | None = None) -> str:
    """A Mermaid ``flowchart TD`` (pastes into GitHub/GitLab issues)."""
    g = _part(bg, graph)
    ids: dict[str, str] = {}
    out = ["flowchart TD"]
    classes: dict[str, list[str]] = {}
    for node, attrs in g.nodes(data=True):
        mid = f"n{len(ids)}"
        ids[node] = mid
        kind: NodeKind = attrs["kind"]
        open_, close = _MERMAID_SHAPE[kind]
        label = "\n".join(_label_lines(kind, attrs["data"], bg, node))
        out.append(f"  {mid}{open_}{_mermaid_str(label)}{close}")
        cls = kind.value.replace("-", "")
        if node in bg.join.unmatched_steps or (
            kind is NodeKind.RECORD and attrs["data"].index in bg.join.unmatched_records
        ):
            cls = "unmatched"
        classes.setdefault(cls, []).append(mid)
    for src, dst, attrs in g.edges(data=True):
        edge: EdgeKind = attrs["kind"]
        arrow = "-.->" if edge in (EdgeKind.LINK, EdgeKind.PARENT) else "-->"
        if edge is EdgeKind.KEYED_BY:
            arrow = "==>"
        label = _mermaid_str(_edge_label(edge, attrs))
        out.append(f"  {ids[src]} {arrow}|{label}| {ids[dst]}")
    styles = {
        "step": "fill:#eef3fb,stroke:#57606a",
        "record": "fill:#fdf6e3,stroke:#9a6700",
        "contentkey": "fill:#f3f3f3,stroke:#57606a",
        "layer": "fill:#eaf7ea,stroke:#1a7f37",
        "output": "fill:#fbeaea,stroke:#cf222e",
        "unmatched": "fill:#ffebe9,stroke:#cf222e,stroke-width:2px",
    }
    for cls, members in classes.items():
        out.append(f"  classDef {cls} {styles[cls]}")
        out.append(f"  class {','.join(members)} {cls}")
    return "\n".join(out) + "\n"


# --- JSON --------------------------------------------------------------------------------


def _binary(b: BinaryInfo) -> dict[str, Any]:
    return {
        "path": b.path,
        "format": b.format.value,
        "os": b.os,
        "arch": b.arch,
        "go_version": b.go.go_version if b.go else None,
    }


def _node_json(bg: BuildGraph, node: str, kind: NodeKind, data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": node, "kind": kind.value}
    if kind is NodeKind.STEP:
        s: StepNode = data
        v = s.vertex
        base.update(
            step=s.id,
            platform=s.platform,
            op=s.kind.value,
            op_platform=s.op_platform,
            digest=s.digest,
            location=None
            if s.location is None
            else {
                "file": s.location.filename,
                "line": s.location.line,
                "end_line": s.location.end_line,
                "text": s.location.text,
            },
            stage=s.stage,
            vertex=None
            if v is None
            else {
                "name": v.name,
                "cached": v.cached,
                "started": v.started,
                "completed": v.completed,
                "error": v.error,
            },
            exec_keys={str(k): d for k, d in s.exec_keys.items()},
            key_error=s.key_error,
            layer_chains={str(k): list(c) for k, c in s.layer_chains.items()},
            unmatched=bg.join.unmatched_steps.get(node),
        )
    elif kind in (NodeKind.RECORD, NodeKind.CONTENT_KEY):
        r: RecordNode = data
        base.update(
            index=r.index,
            digest=r.digest,
            outputs=list(r.outputs),
            result_layers=list(r.result_layers),
            slots=r.slots,
            unmatched=r.index in bg.join.unmatched_records,
            note=bg.unmatched_note(r.index),
        )
    elif kind is NodeKind.LAYER:
        layer: LayerNode = data
        base.update(
            blob=layer.blob,
            media_type=layer.media_type,
            size=layer.size,
            diff_id=layer.diff_id,
            content_digest=layer.content_digest,
            files=layer.files,
            in_cache_export=layer.in_cache_export,
            binaries=[_binary(b) for b in layer.binaries],
        )
    else:
        o: OutputNode = data
        base.update(
            platform=o.platform,
            exporter=o.exporter,
            dest=o.dest,
            files=o.files,
            binaries=[_binary(b) for b in o.binaries],
            missing=o.missing,
        )
    return base


def _edge_json(src: str, dst: str, attrs: dict[str, Any]) -> dict[str, Any]:
    kind: EdgeKind = attrs["kind"]
    out: dict[str, Any] = {"source": src, "target": dst, "kind": kind.value}
    if kind is EdgeKind.INPUT_OF:
        out.update(index=attrs["index"], output=attrs["output"])
    elif kind is EdgeKind.KEYED_BY:
        j: Join = attrs["join"]
        out.update(method=j.method.value, confidence=j.confidence, output=j.output, note=j.note)
    elif kind is EdgeKind.LINK:
        out.update(slot=attrs["slot"], selector=attrs["selector"])
    return out


def to_json(bg: BuildGraph, graph: nx.MultiDiGraph | None = None) -> dict[str, Any]:
    """The node-link form documented in this module's docstring."""
    g = _part(bg, graph)
    stats = bg.stats()
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "build": bg.build.ref,
        "platforms": bg.platforms(),
        "stats": {
            "steps": stats.steps,
            "exec_steps": stats.exec_steps,
            "exact": stats.exact,
            "by_method": {m.value: n for m, n in stats.by_method.items()},
            "records": stats.records,
            "unmatched_records": stats.unmatched_records,
            "unmatched_steps": stats.unmatched_steps,
        },
        "nodes": [_node_json(bg, n, a["kind"], a["data"]) for n, a in g.nodes(data=True)],
        "edges": [_edge_json(s, d, a) for s, d, a in g.edges(data=True)],
    }


def render(bg: BuildGraph, fmt: str, graph: nx.MultiDiGraph | None = None) -> str:
    """``dot``, ``mermaid`` or ``json`` text."""
    if fmt == "dot":
        return to_dot(bg, graph)
    if fmt == "mermaid":
        return to_mermaid(bg, graph)
    if fmt == "json":
        return json.dumps(to_json(bg, graph), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown graph format {fmt!r} (one of {', '.join(FORMATS)})")
