"""The shell reader the rules use, and the graph-backed context against the model-backed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachetrace.analysis import run_rules
from cachetrace.analysis.shell import (
    compiles,
    has_checksum_check,
    is_go_build,
    parse,
    unpinned_go_fetches,
)
from cachetrace.capture_io.files import load_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "scenarios"


def test_prefix_assignments_are_scoped_to_their_command() -> None:
    cmds = parse(
        "if [ ! -x /c/h ]; then GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /c/h . ; fi && "
        "mkdir -p /out && cp /c/h /out/h"
    )
    build = next(c for c in cmds if is_go_build(c))
    assert build.assignments == (("GOOS", "$TARGETOS"), ("GOARCH", "$TARGETARCH"))
    assert [c.name for c in cmds] == ["[", "go", "mkdir", "cp"]


def test_exports_and_pipelines_and_redirects() -> None:
    cmds = parse("export GOARCH=arm64 && cat /run/secrets/tok | sha256sum | cut -f1 > /out/x")
    assert cmds[0].exports == (("GOARCH", "arm64"),)
    assert {c.pipeline for c in cmds[1:]} == {cmds[1].pipeline}
    assert cmds[-1].redirects == ("/out/x",)


@pytest.mark.parametrize(
    ("script", "unpinned"),
    [
        ("go install example.com/x/cmd/x@latest", ("example.com/x/cmd/x@latest",)),
        ("go get example.com/x@main", ("example.com/x@main",)),
        ("go get example.com/x", ("example.com/x",)),
        ("go get example.com/x@v1.2.3", ()),
        ("go install ./cmd/x", ()),
        ("go run example.com/x@v0.0.0-20240101000000-abcdefabcdef", ()),
    ],
)
def test_unpinned_go_fetches(script: str, unpinned: tuple[str, ...]) -> None:
    assert unpinned_go_fetches(parse(script)[0]) == unpinned


def test_compiles_and_checksums() -> None:
    assert compiles(parse("go build ./...")[0]) and not compiles(parse("go vet ./...")[0])
    assert compiles(parse("cargo build --release")[0]) and compiles(parse("make")[0])
    assert has_checksum_check('wget -O f u && echo "abc  f" | sha256sum -c -')
    assert not has_checksum_check("wget -O f u && sha256sum f > f.sha")


def test_unbalanced_quotes_do_not_raise() -> None:
    assert parse("echo 'unterminated && go build")


@pytest.mark.skipif(not CAPTURES.is_dir(), reason="no scenario captures")
def test_graph_and_model_contexts_agree() -> None:
    for path in sorted(CAPTURES.glob("*/*.json")):
        capture = load_capture(path)
        via_graph = run_rules(capture)
        via_model = run_rules(capture.builds[0])
        assert [(f.id, f.rule, f.severity) for f in via_graph] == [
            (f.id, f.rule, f.severity) for f in via_model
        ], path
