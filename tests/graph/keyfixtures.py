"""The recorded key fixtures (tests/graph/data/keys/), and matching exec steps to records."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cachetrace.graph.exec_key import exec_cache_digest, record_digest

KEYS = Path(__file__).parent / "data" / "keys"  # Docker 28.5.2, BuildKit v0.25.2
KEYS_V013 = Path(__file__).parent / "data" / "keys-buildkit-v0.13"  # Docker 26.1.5


@dataclass(frozen=True)
class ExecStep:
    id: str
    op: Mapping[str, Any]


def exec_steps(provenance: Mapping[str, Any]) -> list[ExecStep]:
    """Exec steps of an SLSA v0.2 (or v1) provenance predicate with mode=max."""
    build_config = provenance.get("buildConfig")
    if build_config is None:  # SLSA v1
        build_config = provenance["buildDefinition"]["internalParameters"]["buildConfig"]
    return [
        ExecStep(step["id"], step["op"])
        for step in build_config["llbDefinition"]
        if "exec" in (step["op"].get("Op") or {})
    ]


def record_digests(config: Mapping[str, Any]) -> set[str]:
    return {record["digest"] for record in config.get("records", ())}


@dataclass(frozen=True)
class MatchReport:
    steps: int
    records: int
    matched: tuple[str, ...]
    unmatched: tuple[str, ...]


def match(provenance: Mapping[str, Any], config: Mapping[str, Any]) -> MatchReport:
    """Which exec steps' recomputed record digests (output 0) are among the exported ones."""
    digests = record_digests(config)
    matched: list[str] = []
    unmatched: list[str] = []
    steps = exec_steps(provenance)
    for step in steps:
        digest = record_digest(exec_cache_digest(step.op), 0)
        (matched if digest in digests else unmatched).append(step.id)
    return MatchReport(len(steps), len(digests), tuple(matched), tuple(unmatched))


def fixtures() -> Iterator[tuple[str, Path, Path]]:
    """(id, provenance file, cache config file) for every recorded scenario and platform."""
    for root, version in ((KEYS, "v0.25"), (KEYS_V013, "v0.13")):
        for scenario in sorted(p for p in root.iterdir() if p.is_dir()):
            for provenance in sorted(scenario.glob("provenance-*.json")):
                platform = provenance.stem.removeprefix("provenance-")
                name = f"{version}/{scenario.name}/{platform}"
                yield name, provenance, scenario / "cacheconfig.json"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def step_op(scenario: str, predicate: str, platform: str = "linux-amd64") -> Mapping[str, Any]:
    """The op of the first exec step of ``scenario`` whose args contain ``predicate``."""
    provenance = load(KEYS / scenario / f"provenance-{platform}.json")
    for step in exec_steps(provenance):
        if any(predicate in arg for arg in step.op["Op"]["exec"]["meta"]["args"]):
            return step.op
    raise LookupError(f"no exec step running {predicate!r} in {scenario}")
