"""One fresh build on the real engine, recorded and joined: every exec key recomputed exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.graph.build import build_graph
from cachetrace.graph.model import JoinMethod
from tests.engine import Engine

pytestmark = pytest.mark.engine

DATA = Path(__file__).parent / "data" / "joined" / "busybox"


def test_a_fresh_build_joins_every_exec_step_exactly(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "capture.json"
    engine.run(
        [
            sys.executable,
            "-m",
            "cachetrace",
            "record",
            "-q",
            "-o",
            str(out),
            "--",
            "docker",
            "buildx",
            "build",
            "--no-cache",
            "--progress=plain",
            "-f",
            str(DATA / "Dockerfile"),
            str(DATA),
        ],
        timeout=300,
    )
    g = build_graph(load_capture(out))
    stats = g.stats()
    assert (stats.exec_steps, stats.exact) == (2, 2)
    assert g.unmatched_steps() == []
    for step in g.exec_steps():
        vertex = g.vertex_of(step)
        assert vertex is not None and not vertex.cached  # --no-cache: it really ran
        assert g.records_of(step)[0][1] is JoinMethod.EXACT_KEY
    fs = g.output_files("")
    assert fs is not None and fs.exists("/out/copy.txt")
