"""``cachetrace show CAPTURE``: what a capture holds, step by step."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from cachetrace.model.capture import Build, Capture
from cachetrace.model.outputs import BinaryInfo

HELP = "summarise a capture: builds, steps with their Dockerfile lines, cache, layers, binaries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="a capture file written by `cachetrace record`")


def run(args: argparse.Namespace) -> int:
    from cachetrace.capture_io.files import load_capture

    capture = load_capture(args.capture)
    for line in render(capture):
        print(line)
    return 0


def render(capture: Capture) -> Iterator[str]:
    inv = capture.invocation
    state = (
        "complete" if capture.complete else "INCOMPLETE: " + "; ".join(capture.incomplete_reasons)
    )
    yield f"{capture.tool} capture, {len(capture.builds)} build(s), {state}"
    yield f"command: {' '.join(inv.argv)}  (exit {inv.exit_code})"
    if capture.builder is not None:
        b = capture.builder
        version = b.buildkit.version if b.buildkit else "?"
        engine = f", Docker Engine {b.engine_version}" if b.engine_version else ""
        yield f"builder: {b.name} ({b.driver or 'unknown driver'}), BuildKit {version}{engine}"
    for build in capture.builds:
        yield ""
        yield from _build(build)


def _build(build: Build) -> Iterator[str]:
    title = f"build {build.ref}" + (f" (target {build.target})" if build.target else "")
    cached = sum(1 for v in build.vertices if v.cached)
    status = build.status_source.value
    yield f"{title}: {len(build.vertices)} vertices, {cached} cached, status {status}"
    for platform, prov in sorted(build.provenance.items()):
        source = prov.sources[0] if prov.sources else None
        yield f"  platform {platform or '(single)'}: {len(prov.steps)} LLB steps"
        for step in prov.steps:
            if step.op.exec is None:
                continue
            vertex = next((v for v in build.vertices if v.digest == step.digest), None)
            lines = step.dockerfile_lines()
            where = f"{source.filename}:{lines[0]}" if source and lines else "?"
            flag = "cached" if vertex is not None and vertex.cached else "ran"
            text = (
                source.line(lines[0]).strip()
                if source and lines
                else " ".join(step.op.exec.meta.args)
            )
            yield f"    {step.id:<7} {where:<16} {flag:<6} {text[:90]}"
    if build.cache is not None:
        cache = build.cache
        yield f"  cache export: {len(cache.records)} records, {len(cache.layers)} layers"
    scanned = [layer for layer in build.layers if layer.scan is not None]
    binaries = [b for layer in scanned if layer.scan for b in layer.scan.binaries]
    yield f"  layers: {len(build.layers)} ({len(scanned)} scanned), binaries found: {len(binaries)}"
    for export in build.exports:
        n = len(export.scan.entries) if export.scan else 0
        bins = export.scan.binaries if export.scan else ()
        yield f"  export {export.exporter} {export.platform or ''}: {n} entries"
        for binary in bins:
            yield f"    {binary.path}: {_describe(binary)}"
    for m in build.missing:
        yield f"  missing {m.part}: {m.reason}"


def _describe(binary: BinaryInfo) -> str:
    parts = [binary.format.value, f"{binary.os or '?'}/{binary.arch}"]
    if binary.interpreter:
        parts.append(f"interpreter {binary.interpreter}")
    elif binary.static:
        parts.append("static")
    if binary.go is not None:
        parts.append(f"Go {binary.go.go_version}")
    return ", ".join(parts)
