"""Compare two builds step by step: why a step missed, and where the cache handed back
something else under the same key.

:func:`diff_captures` (or :func:`diff_graphs` on two joined graphs) pairs the steps of build A
and build B by platform and Dockerfile place, never by vertex digest (a digest downstream of a
local context changes with every upload even when the content is the same):

1. same instruction kind, line and text; 2. same kind and text (the line moved);
3. same kind and Dockerfile keyword with the most similar text, in build order (the line was
   edited). Local context sources are paired by identifier and never listed.

Each pair gets a :class:`StepClass`. "Same key" means the step's own exec key (recorded before
redaction in ``Build.exec_keys``, else recomputed by the graph) and the keys of every step it
reads from are unchanged; file steps and image sources have no recomputed key, so their op and
output content stand in for it (a COPY's key holds the checksum of what it copies).

====================  ===========================================================
class                 meaning
====================  ===========================================================
``unchanged``         same key, same output
``reused``            same key, B took it from the cache
``polluted``          same key, different output, both ran: the key missed an input
``stale``             same key, different output, one side was cached: the cache
                      served a result a fresh run no longer makes
``miss``              different key, output changed (or not scanned)
``needless-miss``     different key, same output: the change did not matter
``only-a``/``only-b`` no partner step in the other build
====================  ===========================================================
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from cachetrace.analysis.diff_output import (
    BinaryChange,
    FileChange,
    OutputDiff,
    OutputState,
    output_diff,
    own_layers,
)
from cachetrace.errors import CachetraceError
from cachetrace.graph.build import BuildGraph, build_graph
from cachetrace.graph.exec_key import record_digest
from cachetrace.graph.key_view import (
    ChangeKind,
    KeyChange,
    KeyView,
    OutsideInput,
    diff_key_views,
    key_view,
)
from cachetrace.graph.model import DockerfileLocation, StepNode
from cachetrace.model.capture import Capture
from cachetrace.model.llb import OpKind

__all__ = [
    "BinaryChange",
    "CaptureDiff",
    "FileChange",
    "OutputDiff",
    "OutputState",
    "StepClass",
    "StepDiff",
    "StepSide",
    "diff_captures",
    "diff_graphs",
]


class StepClass(str, Enum):
    UNCHANGED = "unchanged"
    REUSED = "reused"
    POLLUTED = "polluted"
    STALE = "stale"
    MISS = "miss"
    NEEDLESS_MISS = "needless-miss"
    ONLY_A = "only-a"
    ONLY_B = "only-b"


@dataclass(frozen=True, slots=True)
class StepSide:
    """One side of a pair: the step as that build had it."""

    id: str  # "stepN" in that build's provenance for the platform
    location: DockerfileLocation | None
    key: str | None  # exec record digest (output 0); None for other kinds or when unknown
    cached: bool | None  # the status vertex's cached flag; None without a vertex
    content: tuple[str, ...]  # content digests of the layers the step produced


@dataclass(frozen=True, slots=True)
class StepDiff:
    platform: str
    kind: OpKind
    text: str  # the Dockerfile text (first side that has it), else the op in short
    cls: StepClass
    a: StepSide | None
    b: StepSide | None
    key_changes: tuple[KeyChange, ...] = ()  # the step's own key fields that changed
    upstream: tuple[str, ...] = ()  # "Dockerfile:5 COPY . ." of ancestors whose own key changed
    own_change: str = ""  # for a miss of a non-exec step: what changed in it
    outside: tuple[OutsideInput, ...] = ()  # inputs the key does not cover (exec steps)
    output: OutputDiff = field(default_factory=lambda: OutputDiff(OutputState.UNKNOWN))

    @property
    def location(self) -> DockerfileLocation | None:
        for side in (self.b, self.a):
            if side is not None and side.location is not None:
                return side.location
        return None


@dataclass(frozen=True, slots=True)
class CaptureDiff:
    build_a: str  # build refs
    build_b: str
    platforms: tuple[tuple[str, str], ...]  # (platform in A, platform in B), paired
    steps: tuple[StepDiff, ...]

    def counts(self) -> dict[StepClass, int]:
        counts = dict.fromkeys(StepClass, 0)
        for step in self.steps:
            counts[step.cls] += 1
        return counts

    def of(self, cls: StepClass) -> tuple[StepDiff, ...]:
        return tuple(s for s in self.steps if s.cls is cls)


# --- pairing ---------------------------------------------------------------------------


def _listed(step: StepNode) -> bool:
    """Steps that get an entry: everything but the result no-op and the local context."""
    if step.kind is OpKind.NONE:
        return False
    source = step.op.source
    return not (step.kind is OpKind.SOURCE and source is not None and source.scheme == "local")


def _text(step: StepNode) -> str:
    if step.location is not None:
        return " ".join(step.location.text.replace("\\\n", " ").split())
    op = step.op
    if op.source is not None:
        return op.source.identifier
    if op.exec is not None:
        return " ".join(op.exec.meta.args)
    return step.kind.value


def _keyword(step: StepNode) -> str:
    words = _text(step).split(maxsplit=1)
    return words[0].upper() if words else ""


def _line(step: StepNode) -> int:
    return step.location.line if step.location is not None else 0


def _pair_steps(
    a: Sequence[StepNode], b: Sequence[StepNode]
) -> list[tuple[StepNode | None, StepNode | None]]:
    matched: dict[int, int] = {}  # index in a -> index in b
    used_b: set[int] = set()

    def exact(sig_a: list[tuple[object, ...]], sig_b: list[tuple[object, ...]]) -> None:
        by_sig: dict[tuple[object, ...], list[int]] = {}
        for j, sig in enumerate(sig_b):
            if j not in used_b:
                by_sig.setdefault(sig, []).append(j)
        for i, sig in enumerate(sig_a):
            if i in matched or not by_sig.get(sig):
                continue
            j = by_sig[sig].pop(0)
            matched[i] = j
            used_b.add(j)

    exact([(s.kind, _line(s), _text(s)) for s in a], [(s.kind, _line(s), _text(s)) for s in b])
    exact([(s.kind, _text(s)) for s in a], [(s.kind, _text(s)) for s in b])

    # edited lines: same kind and keyword, most similar text, no crossing of earlier pairs
    candidates: list[tuple[float, int, int]] = []
    for i, sa in enumerate(a):
        if i in matched or not _listed(sa):
            continue
        for j, sb in enumerate(b):
            if j in used_b or sb.kind is not sa.kind or _keyword(sb) != _keyword(sa):
                continue
            ratio = difflib.SequenceMatcher(None, _text(sa), _text(sb)).ratio()
            if ratio >= 0.5:
                candidates.append((-ratio, i, j))
    for _, i, j in sorted(candidates):
        if i in matched or j in used_b:
            continue
        if any((i2 < i) != (j2 < j) for i2, j2 in matched.items()):
            continue
        matched[i] = j
        used_b.add(j)

    pairs: list[tuple[StepNode | None, StepNode | None]] = []
    partner_of = {j: i for i, j in matched.items()}
    for j, sb in enumerate(b):
        partner = partner_of.get(j)
        pairs.append((a[partner] if partner is not None else None, sb))
    pairs.extend((sa, None) for i, sa in enumerate(a) if i not in matched)
    return pairs


def _pair_platforms(a: BuildGraph, b: BuildGraph) -> list[tuple[str, str]]:
    pa, pb = a.platforms(), b.platforms()
    if len(pa) == 1 and len(pb) == 1:
        return [(pa[0], pb[0])]
    return [(p, p) for p in pa if p in pb]


# --- keys and outputs ------------------------------------------------------------------


def _exec_key(graph: BuildGraph, step: StepNode) -> str | None:
    if step.kind is not OpKind.EXEC:
        return None
    recorded = graph.build.exec_keys.get(step.platform, {}).get(step.id)
    if recorded:
        return record_digest(recorded, 0)
    return step.exec_keys.get(0)


def _key_view(step: StepNode) -> KeyView | None:
    if step.kind is not OpKind.EXEC:
        return None
    try:
        return key_view(step.op.raw, step.op.platform)
    except CachetraceError:
        return None


def _side(graph: BuildGraph, step: StepNode) -> StepSide:
    return StepSide(
        id=step.id,
        location=step.location,
        key=_exec_key(graph, step),
        cached=step.vertex.cached if step.vertex is not None else None,
        content=tuple(layer.content_digest for layer in own_layers(graph, step)),
    )


def _raw_without_inputs(step: StepNode) -> object:
    raw = step.op.raw
    if isinstance(raw, dict):
        return {k: v for k, v in raw.items() if k != "inputs"}
    return raw


_CONTENT_CHANGED = "the content it copies changed"


def _raw_changes(a: object, b: object, path: str) -> list[KeyChange]:
    """Leaf differences of two op JSON values (non-exec ops: no key view to ask)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[KeyChange] = []
        for k in [*a, *(k for k in b if k not in a)]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append(KeyChange(sub, ChangeKind.REMOVED, before=a[k]))
            elif k not in a:
                out.append(KeyChange(sub, ChangeKind.ADDED, after=b[k]))
            else:
                out.extend(_raw_changes(a[k], b[k], sub))
        return out
    if a == b:
        return []
    return [KeyChange(path, ChangeKind.CHANGED, before=a, after=b)]


def _own_change(
    sa: StepNode, sb: StepNode, side_a: StepSide, side_b: StepSide, inputs_changed: bool
) -> tuple[bool, tuple[KeyChange, ...], str]:
    """Whether the step's own part of the key changed, the exec fields that did, and for
    other kinds what changed."""
    if sb.kind is OpKind.EXEC and sa.kind is OpKind.EXEC:
        va, vb = _key_view(sa), _key_view(sb)
        changes = diff_key_views(va, vb) if va is not None and vb is not None else ()
        if side_a.key is not None and side_b.key is not None:
            return side_a.key != side_b.key, changes if side_a.key != side_b.key else (), ""
        return bool(changes), changes, ""
    if _raw_without_inputs(sa) != _raw_without_inputs(sb) or sa.op_platform != sb.op_platform:
        changes = tuple(_raw_changes(_raw_without_inputs(sa), _raw_without_inputs(sb), ""))
        if sa.op_platform != sb.op_platform:
            changes += (KeyChange("platform", ChangeKind.CHANGED, sa.op_platform, sb.op_platform),)
        return True, changes, "the op itself changed"
    if sb.kind is OpKind.SOURCE:
        if sa.layer_chains != sb.layer_chains:
            return True, (), "the image resolved to other layers"
        return False, (), ""
    if (
        not inputs_changed
        and side_a.content != side_b.content
        and all(side_a.content + side_b.content)
    ):
        # content-hashed inputs (COPY sources) are in the key: a new content is a new key
        return True, (), _CONTENT_CHANGED
    return False, (), ""


# --- the diff --------------------------------------------------------------------------


@dataclass
class _State:
    own: bool
    effective: bool
    label: str
    drift: bool = False  # same key, different output


def _label(step: StepNode) -> str:
    where = str(step.location) if step.location is not None else step.id
    return f"{where} {_text(step)}"


def _diff_platform(ga: BuildGraph, gb: BuildGraph, plat_a: str, plat_b: str) -> list[StepDiff]:
    steps_a = [s for s in ga.steps(platform=plat_a) if s.kind is not OpKind.NONE]
    steps_b = [s for s in gb.steps(platform=plat_b) if s.kind is not OpKind.NONE]
    pairs = _pair_steps(steps_a, steps_b)
    partner: dict[str, StepNode] = {sb.id: sa for sa, sb in pairs if sa is not None and sb}
    state: dict[str, _State] = {}  # B step id -> its state
    out: list[StepDiff] = []
    order = {s.id: n for n, s in enumerate(steps_b)}
    for sb in steps_b:  # build order: inputs first
        sa = partner.get(sb.id)
        ancestors = [state.get(p.id) for p, _ in gb.inputs_of(sb)]
        inputs_changed = any(s is None or s.effective for s in ancestors)
        if sa is None:
            state[sb.id] = _State(own=True, effective=True, label=_label(sb))
            if _listed(sb):
                out.append(
                    StepDiff(plat_b, sb.kind, _text(sb), StepClass.ONLY_B, None, _side(gb, sb))
                )
            continue
        side_a, side_b = _side(ga, sa), _side(gb, sb)
        own, changes, own_note = _own_change(sa, sb, side_a, side_b, inputs_changed)
        effective = own or inputs_changed
        state[sb.id] = _State(own=own, effective=effective, label=_label(sb))
        if not _listed(sb):
            continue
        output = output_diff(ga, sa, gb, sb)
        kv = _key_view(sb)
        upstream: tuple[str, ...] = ()
        if effective and not own:
            upstream = _causes(gb, sb, state, order)
        drifted = _drifted(gb, sb, state, order)
        if own_note == _CONTENT_CHANGED and drifted:
            upstream = drifted
            own_note = f"{_CONTENT_CHANGED}: its input gave another output under the same key"
        if not effective:
            if output.state is OutputState.DIFFERENT:
                state[sb.id].drift = True
                cls = StepClass.STALE if side_a.cached or side_b.cached else StepClass.POLLUTED
            else:
                cls = StepClass.REUSED if side_b.cached else StepClass.UNCHANGED
        else:
            cls = StepClass.NEEDLESS_MISS if output.state is OutputState.SAME else StepClass.MISS
        out.append(
            StepDiff(
                platform=plat_b,
                kind=sb.kind,
                text=_text(sb),
                cls=cls,
                a=side_a,
                b=side_b,
                key_changes=changes,
                upstream=upstream,
                own_change=own_note,
                outside=kv.outside if kv is not None else (),
                output=output,
            )
        )
    for left, right in pairs:
        if right is None and left is not None and _listed(left):
            out.append(
                StepDiff(plat_a, left.kind, _text(left), StepClass.ONLY_A, _side(ga, left), None)
            )
    return out


def _causes(
    graph: BuildGraph, step: StepNode, state: dict[str, _State], order: dict[str, int]
) -> tuple[str, ...]:
    """The ancestors whose own key changed and that reach ``step`` through changed steps
    only, earliest first."""
    found: dict[str, str] = {}
    stack = [p for p, _ in graph.inputs_of(step)]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        st = state.get(node.id)
        if st is None or not st.effective:
            continue
        if st.own:
            found[node.id] = st.label
            continue
        stack.extend(p for p, _ in graph.inputs_of(node))
    return tuple(found[k] for k in sorted(found, key=lambda k: order.get(k, 0)))


def _drifted(
    graph: BuildGraph, step: StepNode, state: dict[str, _State], order: dict[str, int]
) -> tuple[str, ...]:
    """The ancestors that gave another output under the same key, earliest first."""
    found: dict[str, str] = {}
    stack = [p for p, _ in graph.inputs_of(step)]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        st = state.get(node.id)
        if st is None or st.effective:
            continue
        if st.drift:
            found[node.id] = st.label
        stack.extend(p for p, _ in graph.inputs_of(node))
    return tuple(found[k] for k in sorted(found, key=lambda k: order.get(k, 0)))


def diff_graphs(a: BuildGraph, b: BuildGraph) -> CaptureDiff:
    """Pair and classify the steps of two joined builds (A before, B after)."""
    platforms = _pair_platforms(a, b)
    steps: list[StepDiff] = []
    for pa, pb in platforms:
        steps.extend(_diff_platform(a, b, pa, pb))
    only_a = [p for p in a.platforms() if p not in {x for x, _ in platforms}]
    only_b = [p for p in b.platforms() if p not in {y for _, y in platforms}]
    for p in only_a:
        steps.extend(
            StepDiff(p, s.kind, _text(s), StepClass.ONLY_A, _side(a, s), None)
            for s in a.steps(platform=p)
            if _listed(s)
        )
    for p in only_b:
        steps.extend(
            StepDiff(p, s.kind, _text(s), StepClass.ONLY_B, None, _side(b, s))
            for s in b.steps(platform=p)
            if _listed(s)
        )
    return CaptureDiff(a.build.ref, b.build.ref, tuple(platforms), tuple(steps))


def diff_captures(
    a: Capture, b: Capture, build_a: int | str = 0, build_b: int | str = 0
) -> CaptureDiff:
    """:func:`diff_graphs` of build ``build_a`` of ``a`` and ``build_b`` of ``b``."""
    return diff_graphs(build_graph(a, build_a), build_graph(b, build_b))
