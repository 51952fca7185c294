"""Joining cache records to steps: exact keys, layer chains, structure, on real captures."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.graph.build import BuildGraph, build_graph
from cachetrace.graph.join import JoinStep, join_records
from cachetrace.graph.model import JoinMethod
from cachetrace.model.cache import CacheExport, CacheInput, CacheLayer, CacheRecord, CacheResult
from cachetrace.model.capture import Capture
from cachetrace.model.llb import OpKind

CAPTURES = Path(__file__).parents[2] / "captures"
# exec step nodes per capture (one per platform) and how many join by their recomputed key;
# "-docker26": the same builds on Docker 26.1.5 (BuildKit v0.13.2, buildx 0.13.1)
EXACT = {
    "busybox": (2, 2),
    "platform-collapse": (2, 2),
    "clean-go-multiarch": (4, 4),
    "busybox-docker26": (2, 2),
    "platform-collapse-docker26": (2, 2),
}
NAMES = tuple(EXACT)


@cache
def capture(name: str) -> Capture:
    return load_capture(CAPTURES / f"graph-{name}.json")


@cache
def graph(name: str) -> BuildGraph:
    return build_graph(capture(name))


@pytest.mark.parametrize("name", NAMES)
def test_every_exec_step_joins_by_its_recomputed_key(name: str) -> None:
    g = graph(name)
    stats = g.stats()
    assert (stats.exec_steps, stats.exact) == EXACT[name]
    for step in g.exec_steps():
        joins = g.joins_of(step)
        assert joins, step.label
        record, join = joins[0]
        assert join.method is JoinMethod.EXACT_KEY and join.confidence == 1.0
        assert record.digest == step.exec_keys[0]


@pytest.mark.parametrize("name", NAMES)
def test_every_step_but_local_sources_has_a_record_with_a_method(name: str) -> None:
    g = graph(name)
    assert g.unmatched_steps() == []
    for step in g.steps():
        if step.kind is OpKind.NONE:
            assert g.records_of(step) == []
        elif step.op.source is not None and step.op.source.scheme == "local":
            assert g.records_of(step) == [] and g.content_keys_of(step), step.label
        else:
            methods = [m for _, m in g.records_of(step)]
            assert methods and all(isinstance(m, JoinMethod) for m in methods), step.label


def test_methods_on_the_single_platform_build() -> None:
    g = graph("busybox")
    method = {s.id: g.records_of(s)[0][1] for s in g.steps() if g.records_of(s)}
    assert method == {
        "step0": JoinMethod.STRUCTURE,  # the image: no results, linked from WORKDIR's record
        "step1": JoinMethod.LAYER_BLOB,
        "step3": JoinMethod.LAYER_BLOB,
        "step4": JoinMethod.EXACT_KEY,
        "step5": JoinMethod.LAYER_BLOB,
        "step6": JoinMethod.EXACT_KEY,
    }
    # the COPY from the context and the COPY --from both read content-checksum keys
    assert len(g.content_keys_of("step2")) == 1
    assert len(g.content_keys_of("step4")) == 1
    assert {r.index for r in g.unmatched_records()} == set(g.join.unmatched_records)


def test_shared_steps_join_the_same_record_per_platform_steps_their_own() -> None:
    collapsed = graph("platform-collapse")
    amd = collapsed.records_of("linux/amd64/step4")
    arm = collapsed.records_of("linux/arm64/step4")
    assert [r.index for r, _ in amd] == [r.index for r, _ in arm]
    clean = graph("clean-go-multiarch")
    amd = clean.records_of("linux/amd64/step6")
    arm = clean.records_of("linux/arm64/step6")
    assert amd[0][0].digest != arm[0][0].digest
    # each record's result is the layer the step produced
    for node in ("linux/amd64/step6", "linux/arm64/step6"):
        record = clean.records_of(node)[0][0]
        top = clean.layers_of(node)[-1].blob
        assert clean.record(record.index).result_layers == (top,)


def test_records_kept_from_other_builds_stay_unmatched() -> None:
    g = graph("clean-go-multiarch")
    joined = {j.record for joins in g.join.joins.values() for j in joins}
    unmatched = {r.index for r in g.unmatched_records()}
    assert not unmatched & joined
    assert unmatched | joined | g.join.content_keys == set(range(g.stats().records))
    # the export keeps the same COPY over earlier builds' module downloads (the proxy URL, in
    # the key, changes per run): one digest, and only the record over this build's is joined
    record, _ = g.records_of("linux/amd64/step5")[0]
    parent, _ = g.records_of("linux/amd64/step4")[0]
    assert any(link.link == parent.index for link in record.inputs[0])
    for other in g.unmatched_records():
        if other.digest == record.digest:
            assert all(link.link != parent.index for link in other.inputs[0])


def _with_cache(c: Capture, cache_export: CacheExport) -> Capture:
    return dataclasses.replace(c, builds=(dataclasses.replace(c.builds[0], cache=cache_export),))


def test_exec_key_missing_falls_back_to_layer_chain() -> None:
    c = capture("busybox")
    assert c.builds[0].cache is not None
    key = graph("busybox").records_of("step6")[0][0]
    records = tuple(
        dataclasses.replace(r, digest="sha256:" + "0" * 64) if r.index == key.index else r
        for r in c.builds[0].cache.records
    )
    g = build_graph(_with_cache(c, dataclasses.replace(c.builds[0].cache, records=records)))
    record, join = g.joins_of("step6")[0]
    assert record.index == key.index and join.method is JoinMethod.LAYER_BLOB
    assert g.stats().exact == 1


def test_no_key_and_no_layers_falls_back_to_structure() -> None:
    c = capture("busybox")
    assert c.builds[0].cache is not None
    key = graph("busybox").records_of("step6")[0][0]
    records = tuple(
        dataclasses.replace(r, digest="sha256:" + "0" * 64, results=())
        if r.index == key.index
        else r
        for r in c.builds[0].cache.records
    )
    g = build_graph(_with_cache(c, dataclasses.replace(c.builds[0].cache, records=records)))
    record, join = g.joins_of("step6")[0]
    assert record.index == key.index and join.method is JoinMethod.STRUCTURE
    assert join.confidence < 1.0 and join.note


def test_same_key_twice_picks_the_record_linking_the_inputs() -> None:
    layers = (CacheLayer(0, "sha256:aa"), CacheLayer(1, "sha256:bb", parent=0))
    records = (
        CacheRecord(0, "sha256:parent", results=(CacheResult(0),)),
        CacheRecord(1, "sha256:other"),
        CacheRecord(2, "sha256:key", inputs=((CacheInput(1, "sel"),),)),
        CacheRecord(3, "sha256:key", results=(CacheResult(1),), inputs=((CacheInput(0, "sel"),),)),
    )
    steps = [
        JoinStep("p", OpKind.FILE, "", (), layer_chains={0: ("sha256:aa",)}),
        JoinStep("c", OpKind.EXEC, "", (("p", 0),), exec_keys={0: "sha256:key"}),
    ]
    result = join_records(steps, CacheExport("m", "c", layers, records))
    assert [j.record for j in result.joins["c"]] == [3]
    assert "links the inputs" in result.joins["c"][0].note
    assert result.unmatched_records == (1, 2)


def test_two_records_with_one_chain_share_the_confidence() -> None:
    layers = (CacheLayer(0, "sha256:aa"),)
    records = (
        CacheRecord(0, "sha256:x", results=(CacheResult(0),)),
        CacheRecord(1, "sha256:y", results=(CacheResult(0),)),
    )
    steps = [JoinStep("s", OpKind.FILE, "", (), layer_chains={0: ("sha256:aa",)})]
    result = join_records(steps, CacheExport("m", "c", layers, records))
    assert [(j.record, j.confidence) for j in result.joins["s"]] == [(0, 0.45), (1, 0.45)]


def test_a_redacted_op_is_not_keyed_and_joins_by_its_layers() -> None:
    from cachetrace.capture_io.redact import REDACTED as WRITTEN
    from cachetrace.graph.build import REDACTED

    assert REDACTED == WRITTEN
    c = capture("busybox")
    (p,) = c.builds[0].provenance.values()
    steps = []
    for step in p.steps:
        changed = step
        if step.id == "step6":
            raw = json.loads(json.dumps(step.op.raw))
            raw["Op"]["exec"]["meta"]["args"][-1] = f"curl -H 'Authorization: {REDACTED}' x"
            changed = dataclasses.replace(step, op=dataclasses.replace(step.op, raw=raw))
        steps.append(changed)
    build = dataclasses.replace(
        c.builds[0], provenance={"": dataclasses.replace(p, steps=tuple(steps))}
    )
    g = build_graph(dataclasses.replace(c, builds=(build,)))
    step6 = g.step("step6")
    assert step6.exec_keys == {} and "redacted" in step6.key_error
    assert g.records_of("step6")[0] == (
        graph("busybox").records_of("step6")[0][0],
        JoinMethod.LAYER_BLOB,
    )


def test_a_redacted_proxy_env_is_outside_the_key_and_still_joins_exactly() -> None:
    from cachetrace.graph.build import REDACTED

    c = capture("busybox")
    (p,) = c.builds[0].provenance.values()
    steps = []
    for step in p.steps:
        changed = step
        if step.id == "step6":
            raw = json.loads(json.dumps(step.op.raw))
            raw["Op"]["exec"]["meta"]["proxy_env"] = {"http_proxy": f"http://{REDACTED}@proxy:3128"}
            changed = dataclasses.replace(step, op=dataclasses.replace(step.op, raw=raw))
        steps.append(changed)
    build = dataclasses.replace(
        c.builds[0], provenance={"": dataclasses.replace(p, steps=tuple(steps))}
    )
    g = build_graph(dataclasses.replace(c, builds=(build,)))
    assert g.step("step6").key_error == ""
    assert g.records_of("step6")[0][1] is JoinMethod.EXACT_KEY


SHARED_WRITERS = CAPTURES / "scenarios" / "cache-mount-shared-writers" / "default.json"


@pytest.mark.skipif(not SHARED_WRITERS.exists(), reason="scenario capture not recorded")
def test_platforms_copying_equal_files_share_one_record() -> None:
    # both platform's RUN wrote the same /out (they share a cache mount and read each other's
    # state): the COPY's content-based key is one record, which only one platform's layers name
    g = build_graph(load_capture(SHARED_WRITERS))
    assert g.unmatched_steps() == []
    amd = g.records_of("linux/amd64/step2")
    arm = g.records_of("linux/arm64/step2")
    assert amd[0][0] == arm[0][0]
    assert {amd[0][1], arm[0][1]} == {JoinMethod.LAYER_BLOB, JoinMethod.STRUCTURE}
    shared = [s for s in g.steps_sharing_key() if s.key == f"record/{amd[0][0].index}"]
    assert shared and shared[0].via == "structure"
    assert shared[0].reaches_results == ("linux/amd64", "linux/arm64")


def test_earlier_builds_keys_at_a_steps_place_are_its_alternates() -> None:
    # the module download's key holds the proxy URL, whose port changes per run: the export
    # keeps earlier runs' keys over the same input (COPY go.mod go.sum)
    g = graph("clean-go-multiarch")
    own, _ = g.records_of("linux/amd64/step4")[0]
    parent, _ = g.records_of("linux/amd64/step3")[0]
    alternates = g.alternates_of("linux/amd64/step4")
    assert alternates
    for record in alternates:
        assert record.digest != own.digest
        assert parent.index in {link.link for link in record.inputs[0]}
        assert "linux/amd64/step4" in g.unmatched_note(record.index)
    assert all(g.unmatched_note(r.index) for r in g.unmatched_records())
    assert g.unmatched_note(own.index) == ""
    assert g.alternates_of("linux/amd64/step6") == []
