"""Tie the cache export's records to the provenance steps that made them.

BuildKit exports no vertex digest with a cache record, so the tie is established here, with
three methods, most certain first (:class:`~cachetrace.graph.model.JoinMethod`):

1. ``EXACT_KEY``: an exec step's CacheMap digest recomputed from its LLB op
   (:mod:`cachetrace.graph.exec_key`), as ``sha256("<digest>@<output>")``, is a record digest.
2. ``LAYER_BLOB``: the result layer chain of a record (blobs, base first) is the chain the
   provenance gives for the step output (``layers["stepN:OUT"]``).
3. ``STRUCTURE``: from records already joined, along input links: a joined record's input slot
   ``i`` links the record of the step's input ``i`` (image sources are found this way: they
   have no results), and a joined parent record is linked from exactly one record whose slots
   fit an unjoined child step.

Several records can carry one digest (the same op over other inputs, kept from earlier builds
that fed the same result); among them the one whose input links reach the records of the step's
own inputs wins. Content-checksum keys (roots without results, linked with an empty selector)
become ``content`` entries tied to the step whose output they checksum. Records and steps left
without a join are listed, never dropped, each record with a note on what it is: the export also
holds the keys of earlier builds whose results BuildKit still links (an unmatched record linked
from a step's input records like the step's own is that step's *alternate*: the key it had
before, e.g. with another value of a build arg that enters the key).

Everything is indexed by digest, chain and link: the join is linear in steps + records + links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cachetrace.graph.model import CONFIDENCE, Join, JoinMethod
from cachetrace.model.cache import CacheExport, CacheRecord
from cachetrace.model.llb import OpKind

__all__ = ["JoinResult", "JoinStep", "join_records"]


@dataclass(frozen=True, slots=True)
class JoinStep:
    """What the join needs of one step node. ``inputs[i]`` = (parent node, parent output)."""

    node: str
    kind: OpKind
    source_scheme: str  # "docker-image", "local"… for sources, else ""
    inputs: tuple[tuple[str, int], ...]
    exec_keys: dict[int, str] = field(default_factory=dict)  # output -> record digest
    layer_chains: dict[int, tuple[str, ...]] = field(default_factory=dict)  # output -> blobs


@dataclass(frozen=True, slots=True)
class JoinResult:
    joins: dict[str, tuple[Join, ...]]  # step node -> its records (content keys excluded)
    content: dict[str, tuple[Join, ...]]  # step node -> content-checksum keys of its output
    content_keys: frozenset[int]  # record indexes that are content-checksum keys
    unmatched_records: tuple[int, ...]
    unmatched_steps: dict[str, str]  # step node -> why it has no record
    # step node -> unmatched records at its place: linked from the records of its inputs like
    # its own record, under another key (an earlier build's key for the same step)
    alternates: dict[str, tuple[int, ...]] = field(default_factory=dict)
    record_notes: dict[int, str] = field(default_factory=dict)  # unmatched record -> what it is

    def method_counts(self) -> dict[JoinMethod, int]:
        """Step nodes per best join method."""
        counts = dict.fromkeys(JoinMethod, 0)
        for joins in self.joins.values():
            if joins:
                counts[joins[0].method] += 1
        return counts


class _Index:
    def __init__(self, cache: CacheExport) -> None:
        self.records = cache.records
        self.by_digest: dict[str, list[int]] = {}
        self.by_chain: dict[tuple[str, ...], list[int]] = {}
        self.linked_from: dict[int, list[tuple[int, int, str]]] = {}
        chain_memo: dict[int, tuple[str, ...]] = {}
        layers = cache.layers

        def chain(index: int) -> tuple[str, ...]:
            # iterative, memoised: base-first blob chain of a cache layer
            pending: list[int] = []
            current: int | None = index
            seen: set[int] = set()
            while (
                current is not None
                and current not in chain_memo
                and 0 <= current < len(layers)
                and current not in seen
            ):
                seen.add(current)
                pending.append(current)
                current = layers[current].parent
            base = chain_memo.get(current, ()) if current is not None else ()
            for i in reversed(pending):
                base = (*base, layers[i].blob)
                chain_memo[i] = base
            return chain_memo.get(index, ())

        for pos, record in enumerate(cache.records):
            self.by_digest.setdefault(record.digest, []).append(pos)
            tops = [r.layer for r in record.results]
            tops += [c.layers[-1] for c in record.chains if c.layers]
            for top in tops:
                self.by_chain.setdefault(chain(top), []).append(pos)
            for slot, links in enumerate(record.inputs):
                for link in links:
                    self.linked_from.setdefault(link.link, []).append((pos, slot, link.selector))

    def has_result(self, pos: int) -> bool:
        r = self.records[pos]
        return bool(r.results or r.chains)

    def links(self, pos: int, slot: int) -> Sequence[tuple[int, str]]:
        record = self.records[pos]
        if slot >= len(record.inputs):
            return ()
        return [(link.link, link.selector) for link in record.inputs[slot]]


def _fits_parents(
    record: CacheRecord, step: JoinStep, joined: dict[str, list[Join]]
) -> bool | None:
    """True if every joined parent's record is linked in the matching slot; None: no evidence."""
    evidence = False
    for slot, (parent, _) in enumerate(step.inputs):
        parent_joins = joined.get(parent)
        if not parent_joins:
            continue
        if slot >= len(record.inputs):
            return False
        linked = {link.link for link in record.inputs[slot]}
        if not any(j.record in linked for j in parent_joins):
            return False
        evidence = True
    return True if evidence else None


def _pick(
    candidates: Sequence[int], step: JoinStep, index: _Index, joined: dict[str, list[Join]]
) -> tuple[list[int], str]:
    """Narrow records of one key or chain down to those that fit the step's joined inputs."""
    if len(candidates) <= 1:
        return list(candidates), ""
    fitting = [c for c in candidates if _fits_parents(index.records[c], step, joined)]
    if len(fitting) == 1:
        return fitting, f"1 of {len(candidates)} records with this key links the inputs' records"
    pool = fitting or list(candidates)
    with_result = [c for c in pool if index.has_result(c)]
    if len(with_result) == 1:
        return with_result, f"1 of {len(candidates)} records with this key has a result"
    return pool, f"{len(pool)} records fit equally"


def join_records(steps: Sequence[JoinStep], cache: CacheExport) -> JoinResult:
    """Join ``steps`` (inputs before users) to the records of ``cache``."""
    index = _Index(cache)
    by_node = {s.node: s for s in steps}
    joined: dict[str, list[Join]] = {}
    taken: set[int] = set()

    def add(node: str, join: Join) -> None:
        joined.setdefault(node, []).append(join)
        taken.add(join.record)

    # 1 + 2: exact keys, then layer chains, inputs before users
    for step in steps:
        for output, digest in sorted(step.exec_keys.items()):
            picked, note = _pick(index.by_digest.get(digest, ()), step, index, joined)
            confidence = CONFIDENCE[JoinMethod.EXACT_KEY]
            for pos in picked:
                add(step.node, Join(pos, JoinMethod.EXACT_KEY, confidence, output, note))
        if step.node in joined:
            continue
        for output, chain in sorted(step.layer_chains.items()):
            if not chain:
                continue
            picked, note = _pick(index.by_chain.get(chain, ()), step, index, joined)
            confidence = CONFIDENCE[JoinMethod.LAYER_BLOB]
            if len(picked) > 1:
                confidence = round(confidence / len(picked), 3)
            for pos in picked:
                add(step.node, Join(pos, JoinMethod.LAYER_BLOB, confidence, output, note))

    content: dict[str, list[Join]] = {}
    content_keys: set[int] = set()

    # 3a: from joined records down their input links to the records of the inputs (users first)
    for step in reversed(steps):
        for join in list(joined.get(step.node, ())):
            for slot, (parent_node, parent_output) in enumerate(step.inputs):
                parent = by_node.get(parent_node)
                if parent is None:
                    continue
                links = index.links(join.record, slot)
                roots = [
                    (pos, sel)
                    for pos, sel in links
                    if not index.records[pos].inputs and not index.has_result(pos)
                ]
                selected = any(sel for _, sel in links)
                if parent.kind is OpKind.SOURCE and parent.source_scheme == "local":
                    # never exported: its slot holds only content-checksum keys
                    for pos, sel in roots:
                        if not sel:
                            content_keys.add(pos)
                            content.setdefault(parent_node, []).append(
                                Join(
                                    pos,
                                    JoinMethod.STRUCTURE,
                                    CONFIDENCE[JoinMethod.STRUCTURE],
                                    parent_output,
                                    f"content checksum of what {step.node} reads",
                                )
                            )
                    continue
                if selected:
                    # a selected (COPY) input: '' roots beside a selected link are content keys
                    for pos, sel in roots:
                        if not sel and pos not in {j.record for j in joined.get(parent_node, ())}:
                            content_keys.add(pos)
                            content.setdefault(parent_node, []).append(
                                Join(
                                    pos,
                                    JoinMethod.STRUCTURE,
                                    CONFIDENCE[JoinMethod.STRUCTURE],
                                    parent_output,
                                    f"content checksum of what {step.node} reads",
                                )
                            )
                if parent_node in joined:
                    continue
                if parent.kind is OpKind.SOURCE:
                    candidates = [pos for pos, sel in roots if sel or not selected]
                else:
                    candidates = [
                        pos
                        for pos, _ in links
                        if index.records[pos].inputs or index.has_result(pos)
                    ]
                if len(candidates) == 1 or (parent.kind is OpKind.SOURCE and candidates):
                    # an image source may have several keys, all linked in the slot it feeds
                    note = f"input {slot} of record {join.record} ({step.node})"
                    if len(candidates) > 1:
                        note += f"; one of {len(candidates)} keys of the source"
                    for pos in candidates:
                        add(
                            parent_node,
                            Join(
                                pos,
                                JoinMethod.STRUCTURE,
                                CONFIDENCE[JoinMethod.STRUCTURE],
                                parent_output,
                                note,
                            ),
                        )

    # 3b: from a joined parent record up to the one record that links it and fits the child
    for step in steps:
        if step.node in joined or not step.inputs or step.kind is OpKind.NONE:
            continue
        found: set[int] | None = None
        for slot, (parent_node, _) in enumerate(step.inputs):
            parent_joins = joined.get(parent_node)
            if not parent_joins:
                continue
            here = {
                pos
                for j in parent_joins
                for pos, link_slot, _ in index.linked_from.get(j.record, ())
                if link_slot == slot and len(index.records[pos].inputs) == len(step.inputs)
            }
            found = here if found is None else found & here
        if found:
            free = sorted(found - taken)
            note = "the only record linking its inputs' records"
            if len(found) == 1 and not free:
                # one key for this step and another (same op over equal content: another
                # platform's COPY of identical files gets the same content-based key)
                free = sorted(found)
                note += ", shared with another step"
            if len(free) == 1:
                add(
                    step.node,
                    Join(free[0], JoinMethod.STRUCTURE, CONFIDENCE[JoinMethod.STRUCTURE], 0, note),
                )

    # content keys: roots without results that only joined records link, with no selector
    for pos, record in enumerate(index.records):
        if pos in taken or pos in content_keys or record.inputs or index.has_result(pos):
            continue
        incoming = index.linked_from.get(pos, ())
        if incoming and all(sel == "" for _, _, sel in incoming):
            content_keys.add(pos)

    unmatched_steps: dict[str, str] = {}
    for step in steps:
        if step.node in joined:
            continue
        if step.kind is OpKind.NONE:
            continue  # the result vertex has no key of its own
        if step.kind is OpKind.SOURCE and step.source_scheme == "local":
            if step.node not in content:
                unmatched_steps[step.node] = "local source: never exported, no content key read"
            continue
        if step.kind is OpKind.EXEC and not step.exec_keys:
            unmatched_steps[step.node] = "no exec key recomputed"
        elif step.kind is OpKind.EXEC:
            unmatched_steps[step.node] = "recomputed key not in the export, no layer or link fits"
        else:
            unmatched_steps[step.node] = "no record with its layer chain or input links"
    unmatched_records = tuple(
        pos for pos in range(len(index.records)) if pos not in taken and pos not in content_keys
    )
    alternates, notes = _explain_unmatched(unmatched_records, steps, joined, index)
    return JoinResult(
        joins={node: _ordered(js) for node, js in joined.items()},
        content={node: _ordered(_unique(js)) for node, js in content.items()},
        content_keys=frozenset(content_keys),
        unmatched_records=unmatched_records,
        unmatched_steps=unmatched_steps,
        alternates=alternates,
        record_notes=notes,
    )


def _explain_unmatched(
    unmatched: tuple[int, ...],
    steps: Sequence[JoinStep],
    joined: dict[str, list[Join]],
    index: _Index,
) -> tuple[dict[str, tuple[int, ...]], dict[int, str]]:
    """Place each unmatched record: another key at a step's place, the step's key over other
    inputs, or a record of another build altogether."""
    steps_of: dict[int, list[str]] = {}
    for node, joins in joined.items():
        for j in joins:
            steps_of.setdefault(j.record, []).append(node)
    users: dict[str, list[JoinStep]] = {}
    for step in steps:
        if step.inputs:
            users.setdefault(step.inputs[0][0], []).append(step)
    alternates: dict[str, list[int]] = {}
    notes: dict[int, str] = {}
    for pos in unmatched:
        record = index.records[pos]
        places: list[str] = []
        if record.inputs:
            for link in record.inputs[0]:
                for parent in steps_of.get(link.link, ()):
                    for user in users.get(parent, ()):
                        if len(user.inputs) == len(record.inputs) and all(
                            any(
                                j.record in {lk.link for lk in record.inputs[slot]}
                                for j in joined.get(p, ())
                            )
                            for slot, (p, _) in enumerate(user.inputs)
                            if joined.get(p)
                        ):
                            places.append(user.node)
        places = sorted(set(places))
        same_key = [
            n for other in index.by_digest.get(record.digest, ()) for n in steps_of.get(other, ())
        ]
        if places:
            for node in places:
                alternates.setdefault(node, []).append(pos)
            if same_key:
                notes[pos] = f"a second record of {same_key[0]}'s key over the same inputs"
            else:
                notes[pos] = f"another key at the place of {places[0]} (an earlier build's)"
        elif same_key:
            notes[pos] = f"{same_key[0]}'s key over inputs of another build"
        elif record.inputs:
            notes[pos] = "a record of another build: its inputs are not this build's"
        else:
            notes[pos] = "a root key no record of this build links"
    return {k: tuple(v) for k, v in alternates.items()}, notes


def _unique(joins: list[Join]) -> list[Join]:
    seen: set[tuple[int, int]] = set()
    out: list[Join] = []
    for j in joins:
        if (j.record, j.output) not in seen:
            seen.add((j.record, j.output))
            out.append(j)
    return out


_RANK = {JoinMethod.EXACT_KEY: 0, JoinMethod.LAYER_BLOB: 1, JoinMethod.STRUCTURE: 2}


def _ordered(joins: list[Join]) -> tuple[Join, ...]:
    return tuple(sorted(joins, key=lambda j: (_RANK[j.method], -j.confidence, j.output, j.record)))
