"""DOT, Mermaid and JSON exports of real captures, and the `cachetrace graph` command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.cli import main
from cachetrace.graph.build import BuildGraph, build_graph
from cachetrace.graph.export import render, to_json, to_mermaid

CAPTURES = Path(__file__).parents[2] / "captures"
NAMES = ("busybox", "platform-collapse", "clean-go-multiarch")


@cache
def graph(name: str) -> BuildGraph:
    return build_graph(load_capture(CAPTURES / f"graph-{name}.json"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_dot_renders_to_svg(name: str, tmp_path: Path) -> None:
    dot = tmp_path / "g.dot"
    dot.write_text(render(graph(name), "dot"))
    proc = subprocess.run(
        ["dot", "-Tsvg", str(dot)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no syntax warnings either
    svg = proc.stdout
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # the join method is shown on keyed-by edges (dot writes "-" as an entity)
    assert re.search(r"exact(-|&#45;)key 1<", svg)
    if name == "busybox":
        # a label with quotes, ampersands and > survives escaping
        assert "cat /out/greeting.sha256 &gt; /out/copy.txt &amp;&amp; echo done" in svg


_NODE = re.compile(r'^  n\d+(\[|\(\[|\{\{|\[\(|\[/)"[^"]*"(\]|\]\)|\}\}|\)\]|/\])$')
_EDGE = re.compile(r'^  n\d+ (-->|-\.->|==>)\|"[^"]*"\| n\d+$')
_CLASS = re.compile(r"^  (classDef \w+ [\w:#,.-]+|class n\d+(,n\d+)* \w+)$")


@pytest.mark.parametrize("name", NAMES)
def test_mermaid_is_a_flowchart_with_escaped_labels(name: str) -> None:
    text = to_mermaid(graph(name))
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    for line in lines[1:]:
        assert _NODE.match(line) or _EDGE.match(line) or _CLASS.match(line), line
    if name == "busybox":
        assert "cat /out/greeting.sha256 #gt; /out/copy.txt #amp;#amp; echo done" in text


def test_json_is_the_documented_node_link_form() -> None:
    g = graph("clean-go-multiarch")
    doc = json.loads(render(g, "json"))
    assert (doc["format"], doc["version"]) == ("cachetrace.graph", 1)
    assert doc["platforms"] == ["linux/amd64", "linux/arm64"]
    assert doc["stats"]["exact"] == 4 and doc["stats"]["exec_steps"] == 4
    ids = {n["id"] for n in doc["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in doc["edges"])
    kinds = {n["kind"] for n in doc["nodes"]}
    assert kinds == {"step", "record", "content-key", "layer", "output"}
    step = next(n for n in doc["nodes"] if n["id"] == "linux/arm64/step6")
    assert step["op"] == "exec" and step["location"]["line"] == 11 and step["stage"] == "build"
    assert step["exec_keys"]["0"].startswith("sha256:")
    keyed = {
        e["target"].split("/")[0]: (e["method"], e["confidence"])
        for e in doc["edges"]
        if e["source"] == step["id"] and e["kind"] == "keyed-by"
    }
    # its own record, and the content key of /out/hello that the final COPY reads
    assert keyed == {"record": ("exact-key", 1.0), "content": ("structure", 0.7)}
    out = next(n for n in doc["nodes"] if n["id"] == "output/linux/arm64")
    assert [b["arch"] for b in out["binaries"]] == ["arm64"]


def test_neighbourhood_of_one_step() -> None:
    g = graph("busybox")
    part = g.neighbourhood(g.find_steps("Dockerfile:6"))
    doc = to_json(g, part)
    ids = {n["id"] for n in doc["nodes"]}
    assert {"step3", "step4", "step5"} <= ids  # input and user
    assert "step0" not in ids and "step6" not in ids
    record = g.records_of("step4")[0][0]
    assert f"record/{record.index}" in ids
    assert f"layer/{g.layers_of('step4')[-1].blob}" in ids


def test_graph_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = str(CAPTURES / "graph-platform-collapse.json")
    assert main(["graph", capture, "--format", "mermaid", "--step", "linux/arm64/step4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TD\n") and "step4 [linux/arm64]" in out
    target = tmp_path / "g.json"
    assert main(["graph", capture, "--format", "json", "-o", str(target)]) == 0
    err = capsys.readouterr().err
    assert "2/2 exec steps joined by exact key" in err
    assert json.loads(target.read_text())["stats"]["exact"] == 2


def test_graph_command_errors(capsys: pytest.CaptureFixture[str]) -> None:
    capture = str(CAPTURES / "graph-busybox.json")
    assert main(["graph", capture, "--step", "Dockerfile:99"]) == 2
    err = capsys.readouterr().err
    assert "no step matches 'Dockerfile:99'" in err and len(err.strip().splitlines()) == 1
    assert main(["graph", capture, "--build", "4"]) == 2
    assert "no build 4" in capsys.readouterr().err
    assert main(["graph", "/nonexistent.json"]) == 2


def test_graph_stats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(CAPTURES / "graph-busybox.json"), "--stats"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "2/2 exec steps joined by exact key" in out[0]
    assert any(line.startswith("  step4 (Dockerfile:6) exec: record ") for line in out)
    assert any("exact-key 1" in line for line in out)


FAILED_BUILD = CAPTURES / "failed-build.json"


@pytest.mark.skipif(not FAILED_BUILD.exists(), reason="no failed-build capture recorded")
def test_graph_of_a_failed_build_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(FAILED_BUILD)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no provenance" in err and len(err.splitlines()) == 1


# Mermaid's own parser, when a node_modules with mermaid and jsdom is given
# (`npm install mermaid@11 jsdom` in a directory; CACHETRACE_MERMAID_NODE_MODULES=<it>/node_modules)
MERMAID_MODULES = os.environ.get("CACHETRACE_MERMAID_NODE_MODULES", "")
_PARSE = """
import { JSDOM } from "jsdom";
import fs from "node:fs";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window; globalThis.document = dom.window.document;
const mermaid = (await import("mermaid")).default;
mermaid.initialize({ startOnLoad: false });
for (const f of process.argv.slice(2)) await mermaid.parse(fs.readFileSync(f, "utf8"));
"""


@pytest.mark.skipif(
    not (MERMAID_MODULES and shutil.which("node")),
    reason="set CACHETRACE_MERMAID_NODE_MODULES to a node_modules holding mermaid and jsdom",
)
def test_mermaid_parses_with_mermaid(tmp_path: Path) -> None:
    files = []
    for name in NAMES:
        path = tmp_path / f"{name}.mmd"
        path.write_text(to_mermaid(graph(name)))
        files.append(str(path))
    script = Path(MERMAID_MODULES).parent / "cachetrace-mermaid-check.mjs"
    script.write_text(_PARSE)
    proc = subprocess.run(
        ["node", str(script), *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
