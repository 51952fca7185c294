"""Multiply a real capture's build to N steps with fresh digests, for the graph benchmarks.

Run: ``.venv/bin/python -m bench.replicate_capture CAPTURE --steps 10000 -o OUT.json``.

Copy ``k`` of the build's steps (every platform's provenance), cache records, cache layers,
layer scans and status vertices gets digests of its own, derived from the original and ``k``:
``sha256("<k>:<original>")``, the same original giving the same new digest everywhere in the
copy, so every link (provenance inputs, layer chains, record links, digest mapping) still holds.
Exec ops get an env entry ``CT_REPLICA=<k>`` and their records the digest
:mod:`cachetrace.graph.exec_key` computes for the changed op, so exact-key joins stay exact.
Base image layers (those of ``docker-image`` source steps) keep their blobs: every copy builds on
the same base, as real builds do, which also keeps the file from growing with the base scans.
Only the last copy keeps the no-op result step of each platform.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cachetrace.capture_io.files import load_capture, write_capture
from cachetrace.graph.exec_key import exec_cache_digest, record_digest
from cachetrace.model.build import Vertex
from cachetrace.model.cache import CacheExport, CacheInput, CacheLayer, CacheRecord, CacheResult
from cachetrace.model.capture import Build, Capture, LayerOutput
from cachetrace.model.llb import OpKind, Provenance, Step, StepInput
from cachetrace.model.oci import Descriptor

Mapper = Callable[[str], str]


def _fresh(k: int) -> Mapper:
    memo: dict[str, str] = {}

    def fresh(digest: str) -> str:
        if digest not in memo:
            memo[digest] = "sha256:" + hashlib.sha256(f"{k}:{digest}".encode()).hexdigest()
        return memo[digest]

    return fresh


def _exec_records(step: Step) -> dict[int, str]:
    if step.op.exec is None:
        return {}
    digest = exec_cache_digest(step.op.raw)
    outs = sorted({m.output for m in step.op.exec.mounts if m.output >= 0}) or [0]
    return {out: record_digest(digest, out) for out in outs}


def _replica_op(step: Step, k: int) -> Step:
    """The exec step with ``CT_REPLICA=k`` in its env (raw and typed)."""
    assert step.op.exec is not None
    raw: Any = step.op.raw
    raw = {**raw, "Op": {**raw["Op"], "exec": dict(raw["Op"]["exec"])}}
    meta = dict(raw["Op"]["exec"].get("meta", {}))
    meta["env"] = [*meta.get("env", []), f"CT_REPLICA={k}"]
    raw["Op"]["exec"]["meta"] = meta
    exec_op = dataclasses.replace(
        step.op.exec,
        meta=dataclasses.replace(
            step.op.exec.meta, env=(*step.op.exec.meta.env, f"CT_REPLICA={k}")
        ),
    )
    return dataclasses.replace(step, op=dataclasses.replace(step.op, raw=raw, exec=exec_op))


def replicate(build: Build, copies: int) -> Build:
    """``build`` with ``copies`` copies of its steps, records, layers and vertices."""
    provs = build.provenance
    base_blobs = {
        d.digest
        for p in provs.values()
        for s in p.steps
        if s.op.kind is OpKind.SOURCE
        and s.op.source is not None
        and s.op.source.scheme == "docker-image"
        for chain in p.layers_of(s.id)
        for d in chain
    }
    width = 1 + max(s.index for p in provs.values() for s in p.steps)
    cache = build.cache
    steps: dict[str, list[Step]] = {key: [] for key in provs}
    layers: dict[str, dict[str, tuple[tuple[Descriptor, ...], ...]]] = {key: {} for key in provs}
    mapping: dict[str, dict[str, str]] = {key: {} for key in provs}
    records: list[CacheRecord] = []
    cache_layers: list[CacheLayer] = []
    outputs: list[LayerOutput] = [lo for lo in build.layers if lo.descriptor.digest in base_blobs]
    vertices: list[Vertex] = []
    for k in range(copies):
        fresh = _fresh(k)

        def blob(d: str) -> str:
            return d if d in base_blobs else fresh(d)  # noqa: B023 (used in this iteration)

        def sid(step_id: str) -> str:
            return f"step{int(step_id[4:]) + k * width}"  # noqa: B023

        record_map: dict[str, str] = {}
        last = k == copies - 1
        for key, p in provs.items():
            for step in p.steps:
                if step.op.kind is OpKind.NONE and not last:
                    continue
                new = step
                if step.op.exec is not None:
                    new = _replica_op(step, k)
                    before, after = _exec_records(step), _exec_records(new)
                    for out, digest in before.items():
                        record_map[digest] = after[out]
                new = dataclasses.replace(
                    new,
                    id=sid(step.id),
                    digest=fresh(step.digest) if step.digest else None,
                    inputs=tuple(StepInput(sid(i.step), i.output) for i in step.inputs),
                )
                steps[key].append(new)
                if new.digest:
                    mapping[key][new.digest] = new.id
            for ref, chains in p.layers.items():
                step_id, _, output = ref.partition(":")
                layers[key][f"{sid(step_id)}:{output}"] = tuple(
                    tuple(dataclasses.replace(d, digest=blob(d.digest)) for d in chain)
                    for chain in chains
                )
        if cache is not None:
            r0, l0 = len(records), len(cache_layers)
            for layer in cache.layers:
                cache_layers.append(
                    dataclasses.replace(
                        layer,
                        index=layer.index + l0,
                        blob=blob(layer.blob),
                        parent=None if layer.parent is None else layer.parent + l0,
                    )
                )
            for record in cache.records:
                records.append(
                    CacheRecord(
                        index=record.index + r0,
                        digest=record_map.get(record.digest) or fresh(record.digest),
                        results=tuple(
                            CacheResult(r.layer + l0, r.created_at) for r in record.results
                        ),
                        chains=tuple(
                            dataclasses.replace(c, layers=tuple(i + l0 for i in c.layers))
                            for c in record.chains
                        ),
                        inputs=tuple(
                            tuple(CacheInput(i.link + r0, i.selector) for i in slot)
                            for slot in record.inputs
                        ),
                    )
                )
        for lo in build.layers:
            if lo.descriptor.digest in base_blobs:
                continue
            outputs.append(
                dataclasses.replace(
                    lo,
                    descriptor=dataclasses.replace(
                        lo.descriptor, digest=blob(lo.descriptor.digest)
                    ),
                    step_outputs=tuple(
                        f"{sid(r.partition(':')[0])}:{r.partition(':')[2]}" for r in lo.step_outputs
                    ),
                )
            )
        for v in build.vertices:
            vertices.append(
                dataclasses.replace(v, digest=fresh(v.digest), inputs=tuple(map(fresh, v.inputs)))
            )
    provenance: dict[str, Provenance] = {
        key: dataclasses.replace(
            p, steps=tuple(steps[key]), layers=layers[key], digest_mapping=mapping[key]
        )
        for key, p in provs.items()
    }
    new_cache: CacheExport | None = None
    if cache is not None:
        new_cache = dataclasses.replace(cache, layers=tuple(cache_layers), records=tuple(records))
    return dataclasses.replace(
        build,
        provenance=provenance,
        cache=new_cache,
        layers=tuple(outputs),
        vertices=tuple(vertices),
        logs=(),
    )


def steps_per_copy(build: Build) -> int:
    return sum(
        1 for p in build.provenance.values() for s in p.steps if s.op.kind is not OpKind.NONE
    )


def replicate_capture(capture: Capture, steps: int, build: int = 0) -> Capture:
    """The capture with build ``build`` replicated to about ``steps`` step nodes."""
    b = capture.builds[build]
    copies = max(1, math.ceil(steps / max(1, steps_per_copy(b))))
    return dataclasses.replace(capture, builds=(replicate(b, copies),))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicate_capture")
    parser.add_argument("capture", type=Path)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    out = replicate_capture(load_capture(args.capture), args.steps)
    write_capture(out, args.output)
    b = out.builds[0]
    n = sum(len(p.steps) for p in b.provenance.values())
    records = len(b.cache.records) if b.cache else 0
    print(f"{args.output}: {n} steps, {records} records, {len(b.layers)} layers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
