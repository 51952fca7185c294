"""The joined graph of real captures (captures/graph-*.json, scripts/record_graph_captures.sh)."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.errors import GraphError
from cachetrace.graph.build import BuildGraph, build_graph, dockerfile_stages
from cachetrace.graph.model import EdgeKind, NodeKind
from cachetrace.model.capture import Capture
from cachetrace.model.llb import OpKind

CAPTURES = Path(__file__).parents[2] / "captures"
AMD64, ARM64 = "linux/amd64", "linux/arm64"


@cache
def capture(name: str) -> Capture:
    return load_capture(CAPTURES / f"graph-{name}.json")


@cache
def graph(name: str) -> BuildGraph:
    return build_graph(capture(name))


def test_steps_carry_op_location_stage_and_vertex() -> None:
    g = graph("busybox")
    assert g.platforms() == [""]
    assert [s.id for s in g.steps()] == [f"step{i}" for i in range(8)]
    assert [s.id for s in g.exec_steps()] == ["step4", "step6"]
    run = g.step("step4")
    assert run.kind is OpKind.EXEC and run.op_platform == "linux/amd64"
    assert run.stage == "base" and g.step("step6").stage == "final"
    loc = g.dockerfile_location("step4")
    assert loc is not None and (loc.filename, loc.line, loc.end_line) == ("Dockerfile", 6, 7)
    assert "--mount=type=cache,target=/cache" in loc.text and "sha256sum" in loc.text
    vertex = g.vertex_of("step4")
    assert vertex is not None and vertex.name.startswith("[base 4/4] RUN --mount=type=cache")
    assert vertex.digest == run.digest
    # the base image named by both stages: its first FROM
    base = g.dockerfile_location("step0")
    assert base is not None and base.line == 3 and g.step("step0").stage == "base"
    # the local context has no Dockerfile line
    assert g.dockerfile_location("step2") is None


def test_inputs_layers_and_binaries() -> None:
    g = graph("busybox")
    assert [(p.id, out) for p, out in g.inputs_of("step5")] == [("step0", 0), ("step4", 0)]
    assert [u.id for u in g.users_of("step0")] == ["step1", "step5"]
    chain = g.layers_of("step4")
    assert len(chain) == 4 and chain[0].blob == g.layers_of("step0")[0].blob
    # step4 added exactly the top layer of its chain; the image source all of its own
    assert [layer.blob for layer in g.produced_layers("step4")] == [chain[-1].blob]
    assert [b.path for b in g.binaries_of("step0")] == ["/bin/busybox"]
    assert g.binaries_of("step4") == []
    assert chain[-1].files is not None and chain[-1].in_cache_export


def test_output_files_of_an_image_apply_its_layer_chain() -> None:
    fs = graph("busybox").output_files("")
    assert fs is not None
    assert fs.exists("/out/copy.txt") and fs.exists("/out/greeting.sha256")
    assert fs.exists("/bin/busybox")
    assert not fs.exists("/app/greeting.txt")  # the final stage does not hold the first one's


def test_output_files_of_a_local_export_per_platform() -> None:
    g = graph("clean-go-multiarch")
    amd, arm = g.output_files(AMD64), g.output_files(ARM64)
    assert amd is not None and arm is not None
    a, b = amd.entry("/hello"), arm.entry("/hello")
    assert a is not None and b is not None and a.sha256 != b.sha256
    output = g.output(ARM64)
    assert output is not None and [x.arch for x in output.binaries] == ["arm64"]
    result = g.result_step(ARM64)
    assert result is not None and result.id == "step7"
    assert g.graph.has_edge(f"{ARM64}/step7", f"output/{ARM64}")


@pytest.mark.parametrize("name", ["platform-collapse", "platform-collapse-docker26"])
def test_platform_collapse_signal_present_in_polluted_build(name: str) -> None:
    g = graph(name)
    assert g.platforms() == [AMD64, ARM64]
    shared = {s.op_kind: s for s in g.steps_sharing_key() if len(s.reaches_results) >= 2}
    compile_step = shared[OpKind.EXEC]
    assert compile_step.steps == (f"{AMD64}/step4", f"{ARM64}/step4")
    assert compile_step.reaches_results == (AMD64, ARM64)
    # what it means: the arm64 result is the amd64 binary
    assert [b.arch for b in g.binaries_of(f"{ARM64}/step4")] == ["amd64"]
    amd, arm = g.output_files(AMD64), g.output_files(ARM64)
    assert amd is not None and arm is not None
    a, b = amd.entry("/hello"), arm.entry("/hello")
    assert a is not None and b is not None and a.sha256 == b.sha256


def test_platform_collapse_signal_absent_in_clean_build() -> None:
    g = graph("clean-go-multiarch")
    shared = g.steps_sharing_key()
    # the module download runs once on the build platform for both: shared, but it does not
    # reach either result without the per-target compile
    assert any(s.op_kind is OpKind.EXEC for s in shared)
    assert all(s.reaches_results == () for s in shared)
    assert [b.arch for b in g.binaries_of(f"{ARM64}/step6")] == ["arm64"]
    assert [b.arch for b in g.binaries_of(f"{AMD64}/step6")] == ["amd64"]


def test_find_steps_by_id_line_digest_and_platform() -> None:
    g = graph("busybox")
    assert [s.id for s in g.find_steps("step4")] == ["step4"]
    assert [s.id for s in g.find_steps("Dockerfile:7")] == ["step4"]  # a continuation line
    assert [s.id for s in g.find_steps("11")] == ["step6"]
    digest = g.step("step6").digest
    assert digest is not None
    assert [s.id for s in g.find_steps(digest[:15])] == ["step6"]
    assert [s.id for s in g.find_steps(digest.removeprefix("sha256:")[:8])] == ["step6"]
    assert g.find_steps("Dockerfile:99") == [] and g.find_steps("nonsense") == []
    multi = graph("platform-collapse")
    assert len(multi.find_steps("step4")) == 2
    assert [s.platform for s in multi.find_steps(f"{ARM64}/step4")] == [ARM64]


def test_graph_kinds_and_edges() -> None:
    g = graph("busybox").graph
    kinds = {data["kind"] for _, data in g.nodes(data=True)}
    assert kinds == {NodeKind.STEP, NodeKind.RECORD, NodeKind.CONTENT_KEY, NodeKind.LAYER}
    edges = {data["kind"] for _, _, data in g.edges(data=True)}
    assert edges == set(EdgeKind) - {EdgeKind.EXPORTED}  # an image output, nothing exported
    assert g.has_edge("step4", "step5")
    assert graph("clean-go-multiarch").graph.nodes[f"output/{AMD64}"]["kind"] is NodeKind.OUTPUT


def test_select_build_errors() -> None:
    c = capture("busybox")
    with pytest.raises(GraphError, match="no build 3"):
        build_graph(c, 3)
    with pytest.raises(GraphError, match="no build with ref 'nope'"):
        build_graph(c, "nope")
    assert build_graph(c, c.builds[0].ref[:8]).build.ref == c.builds[0].ref
    bare = dataclasses.replace(c, builds=(dataclasses.replace(c.builds[0], provenance={}),))
    with pytest.raises(GraphError, match="has no provenance"):
        build_graph(bare)


def test_dockerfile_stages() -> None:
    text = (
        "ARG X\nFROM --platform=$BUILDPLATFORM a AS build\nRUN x \\\n  y\nfrom b\nFROM c as Last\n"
    )
    assert dockerfile_stages(text) == [(2, "build"), (5, "stage-1"), (6, "Last")]
