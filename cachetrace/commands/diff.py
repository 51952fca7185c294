"""``cachetrace diff A B``: pair the steps of two recorded builds and say, per step, whether
the key changed (and which fields, or which step upstream), and whether the output did."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cachetrace.analysis.diff import CaptureDiff, StepDiff, StepSide
    from cachetrace.graph.key_view import KeyChange, OutsideInput

HELP = "compare two captures step by step: why a step missed, where the cache gave other output"

SCHEMA = "cachetrace-diff/1"
_MAX_FILES = 10  # file changes shown per step in text and Markdown (JSON has them all)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A", type=Path, help="the earlier capture")
    parser.add_argument("b", metavar="B", type=Path, help="the later capture")
    parser.add_argument(
        "--build-a", default="0", metavar="N", help="build of A: index from 0 or ref (default 0)"
    )
    parser.add_argument(
        "--build-b", default="0", metavar="N", help="build of B: index from 0 or ref (default 0)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (default: text)",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the diff here")


def run(args: argparse.Namespace) -> int:
    from cachetrace.analysis.diff import diff_captures
    from cachetrace.capture_io.files import load_capture, write_atomic
    from cachetrace.errors import ReportError, UsageError

    captures = []
    for path in (args.a, args.b):
        if not path.is_file():
            raise UsageError(f"{path}: no such capture file")
        captures.append(load_capture(path))
    diff = diff_captures(
        captures[0], captures[1], _build_arg(args.build_a), _build_arg(args.build_b)
    )
    names = (str(args.a), str(args.b))
    if args.format == "json":
        text = json.dumps(to_jsonable(diff, names), indent=2) + "\n"
    elif args.format == "markdown":
        text = "\n".join(render_markdown(diff, names)) + "\n"
    else:
        text = "\n".join(render_text(diff, names)) + "\n"
    if args.output is not None:
        try:
            write_atomic(args.output, text.encode())
        except OSError as exc:
            raise ReportError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return 0


def _build_arg(value: str) -> int | str:
    return int(value) if value.isdigit() else value


# --- words -----------------------------------------------------------------------------


def _r(value: object) -> str:
    from cachetrace.capture_io.redact import redact_text

    return redact_text(value if isinstance(value, str) else json.dumps(value))


_OUTSIDE_ORDER = (
    "secret_mount",
    "secret_env",
    "cache_mount",
    "cache_id",
    "proxy_env",
    "ssh_mount",
    "network_access",
    "host_ip",
    "tmpfs_mount",
    "selector",
)


def _outside(o: OutsideInput) -> str:
    kind = o.kind.value
    if kind == "network_access":
        return f"network access ({o.name})"
    if kind == "proxy_env":
        return f"proxy variable {o.name} (value)"
    if kind == "cache_mount":
        return f"cache mount {o.name or o.target} contents at {o.target}"
    if kind == "cache_id":
        return f"cache mount id/sharing {o.name} at {o.target}"
    if kind == "secret_mount":
        return f"secret {o.name} (value) at {o.target}"
    if kind == "secret_env":
        return f"secret {o.name} (value) in ${o.target}"
    if kind == "ssh_mount":
        return f"ssh agent {o.name} at {o.target}"
    if kind == "tmpfs_mount":
        return f"tmpfs at {o.target}"
    if kind == "selector":
        return f"mount source path {o.name} at {o.target}"
    return f"{kind.replace('_', ' ')} {o.name}".strip()


def outside_words(step: StepDiff) -> list[str]:
    ranked = sorted(
        step.outside,
        key=lambda o: _OUTSIDE_ORDER.index(o.kind.value) if o.kind.value in _OUTSIDE_ORDER else 99,
    )
    return [_outside(o) for o in ranked]


def _change(c: KeyChange) -> str:
    if c.kind.value == "added":
        return f"{c.path}: added {_r(c.after)}"
    if c.kind.value == "removed":
        return f"{c.path}: removed (was {_r(c.before)})"
    return f"{c.path}: {_r(c.before)} -> {_r(c.after)}"


def _short(digest: str | None) -> str:
    if not digest:
        return "unknown"
    return digest.removeprefix("sha256:")[:12]


def _ran(side: StepSide | None) -> str:
    if side is None or side.cached is None:
        return "?"
    return "cached" if side.cached else "ran"


def _where(step: StepDiff) -> str:
    loc = step.location
    where = str(loc) if loc is not None else (step.b or step.a).id  # type: ignore[union-attr]
    return f"[{step.platform}] {where}" if step.platform else where


def headline(step: StepDiff) -> str:
    cls = step.cls.value
    if cls in ("unchanged", "reused", "polluted", "stale"):
        key = step.b.key if step.b is not None else None
        what = f"same key {_short(key)}" if key else "same key (op and inputs unchanged)"
        out = step.output.state.value
        return f"{what}; output {out}; A {_ran(step.a)}, B {_ran(step.b)}"
    if cls in ("miss", "needless-miss"):
        ka = step.a.key if step.a is not None else None
        kb = step.b.key if step.b is not None else None
        what = f"key {_short(ka)} -> {_short(kb)}" if ka and kb and ka != kb else "key changed"
        out = step.output.state.value
        return f"{what}; output {out}; A {_ran(step.a)}, B {_ran(step.b)}"
    return "only in A" if cls == "only-a" else "only in B"


def details(step: StepDiff) -> Iterator[str]:
    """The evidence lines of one step entry."""
    cls = step.cls.value
    if step.key_changes:
        yield "key fields changed:" if step.kind.value == "exec" else "op fields changed:"
        for c in step.key_changes:
            yield f"  {_change(c)}"
    if step.own_change:
        yield step.own_change
    if step.upstream:
        lead = (
            "input changed under the same key:"
            if step.own_change
            else "missed because an input's key changed:"
        )
        yield lead
        for label in step.upstream:
            yield f"  {_r(label)}"
    if cls in ("polluted", "stale"):
        if cls == "stale":
            cached = "A" if step.a is not None and step.a.cached else "B"
            yield (
                f"{cached} took this step from the cache; the other side ran it and made "
                "something else: the cache served a stale result"
            )
        else:
            yield "both ran it under one key and made different outputs: the key missed an input"
        words = outside_words(step)
        if words:
            yield "outside the key (likely cause): " + "; ".join(words)
    for bc in step.output.binaries:
        yield f"{bc.path}: {bc.what} {bc.before or '(none)'} -> {bc.after or '(none)'}"
    files = step.output.files
    if files:
        counts = {k: sum(1 for f in files if f.kind.value == k) for k in ("added", "removed")}
        changed = len(files) - counts["added"] - counts["removed"]
        yield (
            f"files: {counts['added']} added, {counts['removed']} removed, {changed} changed"
            + (f" (first {_MAX_FILES})" if len(files) > _MAX_FILES else "")
        )
        binaries = {bc.path for bc in step.output.binaries}
        shown = sorted(files, key=lambda f: (f.path not in binaries, f.path))[:_MAX_FILES]
        for f in shown:
            if f.kind.value == "added":
                yield f"  + {f.path} {f.after}"
            elif f.kind.value == "removed":
                yield f"  - {f.path} {f.before}"
            else:
                yield f"  ~ {f.path} {f.before} -> {f.after}"
    if step.output.note and cls not in ("only-a", "only-b"):
        yield f"output: {step.output.note}"


def summary_line(diff: CaptureDiff) -> str:
    return "summary: " + ", ".join(f"{n} {cls.value}" for cls, n in diff.counts().items())


# --- formats ---------------------------------------------------------------------------


def render_text(diff: CaptureDiff, names: tuple[str, str]) -> Iterator[str]:
    yield f"A: {names[0]} (build {diff.build_a})"
    yield f"B: {names[1]} (build {diff.build_b})"
    pairs = [f"{a or '(single)'}" + (f" ~ {b}" if b != a else "") for a, b in diff.platforms]
    yield "platforms: " + (", ".join(pairs) or "none in common")
    yield summary_line(diff)
    for step in diff.steps:
        if step.cls.value == "unchanged":
            continue
        yield ""
        yield f"{step.cls.value:<13} {_where(step)}  {_r(step.text)}"
        yield f"  {headline(step)}"
        for line in details(step):
            yield f"  {_r(line)}"


def render_markdown(diff: CaptureDiff, names: tuple[str, str]) -> Iterator[str]:
    yield "# cachetrace diff"
    yield ""
    yield f"- A: `{names[0]}` (build `{diff.build_a}`)"
    yield f"- B: `{names[1]}` (build `{diff.build_b}`)"
    yield ""
    yield "| class | steps |"
    yield "|---|---|"
    for cls, n in diff.counts().items():
        yield f"| {cls.value} | {n} |"
    for step in diff.steps:
        if step.cls.value == "unchanged":
            continue
        yield ""
        yield f"## {step.cls.value}: {_where(step)}"
        yield ""
        yield "```dockerfile"
        yield _r(step.location.text if step.location is not None else step.text)
        yield "```"
        yield ""
        yield f"- {headline(step)}"
        for line in details(step):
            indent = "  " if line.startswith("  ") else ""
            yield f"{indent}- {_r(line.strip())}"


def _side(side: StepSide | None) -> dict[str, Any] | None:
    if side is None:
        return None
    loc = side.location
    return {
        "step": side.id,
        "location": f"{loc.filename}:{loc.line}" if loc is not None else None,
        "key": side.key,
        "cached": side.cached,
        "layers": list(side.content),
    }


def _step_json(step: StepDiff) -> dict[str, Any]:
    loc = step.location
    return {
        "class": step.cls.value,
        "platform": step.platform,
        "kind": step.kind.value,
        "file": loc.filename if loc is not None else None,
        "line": loc.line if loc is not None else None,
        "text": _r(step.text),
        "a": _side(step.a),
        "b": _side(step.b),
        "key_changes": [
            {
                "field": c.path,
                "change": c.kind.value,
                "before": _r(c.before) if c.before is not None else None,
                "after": _r(c.after) if c.after is not None else None,
            }
            for c in step.key_changes
        ],
        "upstream": [_r(u) for u in step.upstream],
        "own_change": step.own_change,
        "outside_key": [
            {"kind": o.kind.value, "name": o.name, "target": o.target} for o in step.outside
        ],
        "output": {
            "state": step.output.state.value,
            "note": step.output.note,
            "files": [
                {"path": f.path, "change": f.kind.value, "before": f.before, "after": f.after}
                for f in step.output.files
            ],
            "binaries": [
                {"path": b.path, "what": b.what, "before": b.before, "after": b.after}
                for b in step.output.binaries
            ],
        },
    }


def to_jsonable(diff: CaptureDiff, names: tuple[str, str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "a": {"capture": names[0], "build": diff.build_a},
        "b": {"capture": names[1], "build": diff.build_b},
        "platforms": [list(p) for p in diff.platforms],
        "summary": {cls.value: n for cls, n in diff.counts().items()},
        "steps": [_step_json(s) for s in diff.steps],
    }
