"""``cachetrace diff`` on real captures: same key with other output, stale cache, and misses
named by the key fields that changed."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from cachetrace.analysis.diff import CaptureDiff, StepClass, StepDiff, diff_captures
from cachetrace.capture_io.files import load_capture
from cachetrace.cli import main
from cachetrace.graph.key_view import OutsideKind
from cachetrace.model.capture import Capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
NET = CAPTURES / "scenarios" / "network-fetch-unpinned"
SECRET = CAPTURES / "scenarios" / "secret-outside-key"
MULTI = CAPTURES / "go-multiarch.json"
FIXED = CAPTURES / "go-multiarch-fixed.json"
WARM = CAPTURES / "go-multiarch-warm.json"


@cache
def _load(path: Path) -> Capture:
    return load_capture(path)


@cache
def _diff(a: Path, b: Path) -> CaptureDiff:
    return diff_captures(_load(a), _load(b))


def _step(diff: CaptureDiff, text: str, platform: str = "") -> StepDiff:
    found = [s for s in diff.steps if text in s.text and s.platform == platform]
    assert len(found) == 1, [s.text for s in diff.steps]
    return found[0]


def _exported_module(capture: Capture, binary: str, module: str) -> str:
    for export in capture.builds[0].exports:
        assert export.scan is not None
        for b in export.scan.binaries:
            if b.path == binary and b.go is not None:
                mods = [*b.go.deps, *([b.go.main] if b.go.main is not None else [])]
                return next(m.version for m in mods if m.path == module)
    raise AssertionError(f"no {binary} in the export")


def test_network_fetch_same_key_other_module_version() -> None:
    diff = _diff(NET / "v1.0.0.json", NET / "v1.1.0.json")
    step = _step(diff, "go install example.com/greet/cmd/greet@latest")
    assert step.cls is StepClass.POLLUTED
    assert step.a is not None and step.b is not None
    assert step.a.key == step.b.key and step.a.key
    assert not step.key_changes
    assert any(o.kind is OutsideKind.NETWORK_ACCESS for o in step.outside)
    # the module versions the user would see in the shipped binaries
    old = _exported_module(_load(NET / "v1.0.0.json"), "/greet", "example.com/greet")
    new = _exported_module(_load(NET / "v1.1.0.json"), "/greet", "example.com/greet")
    assert old != new
    change = next(c for c in step.output.binaries if c.what == "module example.com/greet")
    assert (change.before, change.after) == (old, new)
    assert any(f.path == change.path and f.before != f.after for f in step.output.files)


def test_cached_run_served_a_stale_result() -> None:
    diff = _diff(NET / "v1.1.0-cached.json", NET / "v1.1.0.json")
    step = _step(diff, "go install example.com/greet/cmd/greet@latest")
    assert step.cls is StepClass.STALE
    assert step.a is not None and step.a.cached
    assert step.b is not None and not step.b.cached
    # and the earlier fresh run is what the cached run handed back
    reused = _step(_diff(NET / "v1.0.0.json", NET / "v1.1.0-cached.json"), "go install example.com")
    assert reused.cls is StepClass.REUSED


def test_secret_change_same_key_different_output() -> None:
    diff = _diff(SECRET / "token-a.json", SECRET / "token-b.json")
    step = _step(diff, "/run/secrets/tok")
    assert step.cls is StepClass.POLLUTED
    assert step.a is not None and step.b is not None and step.a.key == step.b.key
    assert [o.name for o in step.outside if o.kind is OutsideKind.SECRET_MOUNT] == ["tok"]
    changed = [f for f in step.output.files if f.path == "/out/tok.sha256"]
    assert changed and changed[0].before != changed[0].after
    # the final COPY missed, and says the step above is why
    copy = _step(diff, "COPY --from=build /out/tok.sha256")
    assert copy.cls is StepClass.MISS
    assert any("/run/secrets/tok" in u for u in copy.upstream)


def test_fixed_dockerfile_key_changes_name_target_fields() -> None:
    diff = _diff(MULTI, FIXED)
    assert not diff.of(StepClass.ONLY_A) and not diff.of(StepClass.ONLY_B)
    for platform in ("linux/amd64", "linux/arm64"):
        build = _step(diff, "go build", platform)
        assert build.cls is StepClass.MISS
        fields = {c.path for c in build.key_changes}
        assert "meta.env[TARGETARCH]" in fields
        arch = next(c for c in build.key_changes if c.path == "meta.env[TARGETARCH]")
        assert arch.after == f"TARGETARCH={platform.split('/')[1]}"
        assert "meta.args" in fields  # GOARCH=$TARGETARCH in the command
        # the step whose own fields did not change missed because of the one above it
        copy_all = _step(diff, "COPY . .", platform)
        assert not copy_all.key_changes and copy_all.upstream
        assert copy_all.cls in (StepClass.MISS, StepClass.NEEDLESS_MISS)
    arm = _step(diff, "go build", "linux/arm64")
    goarch = [c for c in arm.output.binaries if c.what == "GOARCH"]
    assert goarch and goarch[0].after == "arm64" and goarch[0].before != "arm64"


def test_warm_rebuild_same_keys_all_cached() -> None:
    diff = _diff(MULTI, WARM)
    assert diff.steps
    assert not diff.of(StepClass.MISS) and not diff.of(StepClass.NEEDLESS_MISS)
    assert not diff.of(StepClass.ONLY_A) and not diff.of(StepClass.ONLY_B)
    for step in diff.steps:
        assert step.b is not None and step.b.cached, step.text
        if step.b.key is not None:
            assert step.a is not None and step.a.key == step.b.key


def test_cli_text_summary_and_entries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(NET / "v1.0.0.json"), str(NET / "v1.1.0.json")]) == 0
    out = capsys.readouterr().out
    summary = next(line for line in out.splitlines() if line.startswith("summary: "))
    assert "3 polluted" in summary
    assert "Dockerfile:8" in out and "go install example.com/greet/cmd/greet@latest" in out
    assert "module example.com/greet" in out and "network access" in out


def test_cli_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "diff.json"
    args = ["diff", str(SECRET / "token-a.json"), str(SECRET / "token-b.json")]
    assert main([*args, "--format", "json", "-o", str(target)]) == 0
    doc = json.loads(target.read_text())
    assert doc["summary"]["polluted"] == 1
    step = next(s for s in doc["steps"] if s["class"] == "polluted")
    assert step["line"] == 4 and step["file"] == "Dockerfile"
    assert {"kind": "secret_mount", "name": "tok", "target": "/run/secrets/tok"} in step[
        "outside_key"
    ]
    assert main([*args, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| polluted | 1 |" in md and "## polluted: Dockerfile:4" in md


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(tmp_path / "nope.json"), str(NET / "v1.0.0.json")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope.json" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["diff", str(bad), str(NET / "v1.0.0.json")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["diff", str(NET / "v1.0.0.json"), str(NET / "v1.1.0.json"), "--build-b", "7"]) == 2
    assert "build" in capsys.readouterr().err
