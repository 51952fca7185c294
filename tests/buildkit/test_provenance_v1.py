"""SLSA v1 provenance (BuildKit >= 0.28), from our real v0.2 fixtures converted to v1.

The engine here (Docker 28.5.2) records v0.2. ``to_slsa_v1`` follows upstream
``ProvenancePredicateSLSA02.ConvertToSLSA1`` (``solver/llbsolver/provenance/types/types.go``)
and Go ``encoding/json`` of the result types (``omitempty``; the custom environment flattened
into ``internalParameters`` by its ``MarshalJSON``), so the decoder's v1 path is checked on
real content laid out as BuildKit >= 0.28 writes it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from cachetrace.buildkit.provenance import PREDICATE_V02, PREDICATE_V1, decode_provenance
from cachetrace.model.llb import Material, Provenance, SlsaVersion

DATA = Path(__file__).parent / "data" / "provenance"
BUILD_TYPE_V1 = "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"


def _omit_empty(d: dict[str, Any]) -> dict[str, Any]:
    """Go ``omitempty``: drop "", 0, false, nil, empty maps and lists."""
    return {k: v for k, v in d.items() if v not in ("", 0, False, None, {}, [])}


def to_slsa_v1(p02: dict[str, Any]) -> dict[str, Any]:
    """A SLSA v0.2 BuildKit predicate as the v1 predicate BuildKit would write for it."""
    inv = p02.get("invocation") or {}
    cs = inv.get("configSource") or {}
    env = dict(inv.get("environment") or {})
    platform = env.pop("platform", "")
    dockerfile_version = env.pop("dockerfileVersion", "")

    internal: dict[str, Any] = {}
    if p02.get("buildConfig") is not None:
        internal["buildConfig"] = p02["buildConfig"]
    internal["builderPlatform"] = platform  # no omitempty upstream
    if dockerfile_version:
        internal["dockerfileVersion"] = dockerfile_version
    internal.update(env)  # ProvenanceCustomEnv, flattened

    build_definition: dict[str, Any] = {
        "buildType": BUILD_TYPE_V1,
        "externalParameters": {
            "configSource": _omit_empty(
                {"uri": cs.get("uri"), "digest": cs.get("digest"), "path": cs.get("entryPoint")}
            ),
            "request": inv.get("parameters") or {},
        },
        "internalParameters": internal,
    }
    deps = [
        _omit_empty({"uri": m.get("uri"), "digest": m.get("digest")})
        for m in p02.get("materials") or []
    ]
    if deps:
        build_definition["resolvedDependencies"] = deps

    run_details: dict[str, Any] = {"builder": {"id": (p02.get("builder") or {}).get("id", "")}}
    meta02 = p02.get("metadata")
    if meta02 is not None:
        complete = meta02.get("completeness") or {}
        meta: dict[str, Any] = _omit_empty(
            {
                "invocationId": meta02.get("buildInvocationID"),
                "startedOn": meta02.get("buildStartedOn"),
                "finishedOn": meta02.get("buildFinishedOn"),
            }
        )
        meta["buildkit_metadata"] = meta02.get("https://mobyproject.org/buildkit@v1#metadata", {})
        if meta02.get("https://mobyproject.org/buildkit@v1#hermetic"):
            meta["buildkit_hermetic"] = True
        meta["buildkit_completeness"] = {
            "request": bool(complete.get("parameters")),
            "resolvedDependencies": bool(complete.get("materials")),
        }
        if meta02.get("reproducible"):
            meta["buildkit_reproducible"] = True
        run_details["metadata"] = meta
    return {"buildDefinition": build_definition, "runDetails": run_details}


def statement(predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "predicateType": predicate_type,
        "subject": [{"name": "pkg:docker/example@latest", "digest": {"sha256": "ab" * 32}}],
        "predicate": predicate,
    }


def same_facts(p: Provenance) -> Provenance:
    """``p`` without what legitimately differs between the two SLSA layouts."""
    return dataclasses.replace(
        p,
        slsa_version=SlsaVersion.V0_2,
        predicate_type="",
        build_type="",
        subjects=(),
        metadata=dataclasses.replace(p.metadata, complete_environment=None),
    )


@pytest.mark.parametrize("name", ["single", "single-docker26", "multi-amd64", "multi-arm64"])
def test_v1_decodes_to_the_same_model(name: str) -> None:
    doc = json.loads((DATA / f"{name}.json").read_text())
    raw02 = doc.get("predicate", doc)  # single-docker26 is a whole in-toto statement
    v02 = decode_provenance(json.dumps(raw02))
    v1 = decode_provenance(json.dumps(to_slsa_v1(raw02)))
    assert v1.slsa_version is SlsaVersion.V1
    assert v1.predicate_type == PREDICATE_V1
    assert v1.build_type == BUILD_TYPE_V1
    assert v1.metadata.complete_environment is None
    assert same_facts(v1) == same_facts(v02)
    # The pieces the task names, read through the v1 layout.
    assert v1.steps and v1.steps == v02.steps
    assert v1.request.builder_platform == "linux/amd64"
    assert v1.request.config_source.entry_point == "Dockerfile"
    assert v1.sources[0].text == v02.sources[0].text
    assert v1.layers == v02.layers
    assert v1.metadata.started_on == v02.metadata.started_on


def test_v1_custom_environment_and_builder_version() -> None:
    raw02 = json.loads((DATA / "single.json").read_text())
    raw02["invocation"]["environment"]["dockerfileVersion"] = "1.19.0"
    raw02["invocation"]["environment"]["buildkit"] = {"version": "v0.28.0"}
    v1 = to_slsa_v1(raw02)
    assert v1["buildDefinition"]["internalParameters"]["buildkit"] == {"version": "v0.28.0"}
    v1["runDetails"]["builder"]["version"] = {"buildkit": "v0.28.0"}
    p = decode_provenance(json.dumps(v1))
    assert p.request.dockerfile_version == "1.19.0"
    assert p.request.environment == {"buildkit": {"version": "v0.28.0"}}
    assert p.builder_version == {"buildkit": "v0.28.0"}
    p02 = decode_provenance(json.dumps(raw02))
    assert p02.request.dockerfile_version == "1.19.0"
    assert p02.request.environment == p.request.environment


@pytest.mark.parametrize("version", ["v0.2", "v1"])
def test_in_toto_statement_and_dsse_envelope(version: str) -> None:
    raw02 = json.loads((DATA / "single.json").read_text())
    predicate_type, predicate = (
        (PREDICATE_V02, raw02) if version == "v0.2" else (PREDICATE_V1, to_slsa_v1(raw02))
    )
    bare = decode_provenance(json.dumps(predicate))
    stmt = statement(predicate_type, predicate)
    from_statement = decode_provenance(json.dumps(stmt).encode())
    assert from_statement.subjects == (
        Material("pkg:docker/example@latest", {"sha256": "ab" * 32}),
    )
    assert dataclasses.replace(from_statement, subjects=()) == bare
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(stmt).encode()).decode(),
        "signatures": [],
    }
    assert decode_provenance(json.dumps(envelope)) == from_statement
