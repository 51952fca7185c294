"""Decode BuildKit's SLSA provenance (v0.2 and v1) into ``cachetrace.model.llb.Provenance``.

Pure JSON to model: no grpc, no I/O. Accepts what a history record's attestation blob holds
(the bare predicate, media type ``application/vnd.in-toto+json``), a full in-toto statement
(``predicateType`` + ``predicate``, as in an image's attestation manifest), or a DSSE envelope
around such a statement.

Where the pieces are (upstream ``solver/llbsolver/provenance/types/types.go``), v0.2 (what
BuildKit <= 0.27 records) then v1 (BuildKit >= 0.28):

- request: ``invocation.parameters`` / ``buildDefinition.externalParameters.request``
- config source: ``invocation.configSource`` (``entryPoint``) /
  ``buildDefinition.externalParameters.configSource`` (``path``)
- builder platform and custom environment: ``invocation.environment`` (``platform``) /
  ``buildDefinition.internalParameters`` (``builderPlatform``)
- LLB steps and digest mapping: ``buildConfig`` / ``buildDefinition.internalParameters.buildConfig``
- materials: ``materials`` / ``buildDefinition.resolvedDependencies``
- BuildKit metadata (sources, locations, layers, vcs):
  ``metadata["https://mobyproject.org/buildkit@v1#metadata"]`` /
  ``runDetails.metadata.buildkit_metadata``
- invocation id and times: ``metadata.buildInvocationID``, ``buildStartedOn``… /
  ``runDetails.metadata.invocationId``, ``startedOn``…
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cachetrace.buildkit.llb_ops import decode_op
from cachetrace.buildkit.provenance_json import Obj, kind
from cachetrace.errors import ProtocolError
from cachetrace.model import JSONValue
from cachetrace.model.llb import (
    ConfigSource,
    Location,
    Material,
    Position,
    Provenance,
    ProvenanceMode,
    Range,
    Request,
    RunMetadata,
    SessionRef,
    SlsaVersion,
    SourceFile,
    Step,
    StepInput,
)
from cachetrace.model.oci import Descriptor, Platform

__all__ = [
    "INTOTO_MEDIA_TYPE",
    "PREDICATE_V02",
    "PREDICATE_V1",
    "decode_provenance",
]

INTOTO_MEDIA_TYPE = "application/vnd.in-toto+json"
PREDICATE_V02 = "https://slsa.dev/provenance/v0.2"
PREDICATE_V1 = "https://slsa.dev/provenance/v1"
_SLSA_PREFIX = "https://slsa.dev/provenance/"
_BUILDKIT_METADATA_V02 = "https://mobyproject.org/buildkit@v1#metadata"
_BUILDKIT_HERMETIC_V02 = "https://mobyproject.org/buildkit@v1#hermetic"
_BUILD_ARG = "build-arg:"

_STEP_ID = re.compile(r"step(0|[1-9][0-9]*)")
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def decode_provenance(data: bytes | str, *, result_platform: Platform | None = None) -> Provenance:
    """Decode a provenance predicate, in-toto statement or DSSE envelope.

    ``result_platform`` records which result of a multi-platform build the provenance
    belongs to (the key of the history record's ``Results`` map); the predicate itself does
    not say. Raises ``ProtocolError`` with a one-line reason for anything malformed.
    """
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ProtocolError(f"provenance is not JSON: {e}") from None
    top = Obj(doc, "$")
    top = _unwrap_dsse(top)
    predicate_type = top.text("predicateType")
    subjects: tuple[Material, ...] = ()
    if "predicate" in top or predicate_type:
        if not predicate_type.startswith(_SLSA_PREFIX):
            raise ProtocolError(
                f"not a SLSA provenance statement (predicateType {predicate_type!r})"
            )
        subjects = tuple(_material(s, "name") for s in top.objs("subject"))
        predicate = top.obj("predicate")
    else:
        predicate = top
    looks_v1 = "buildDefinition" in predicate or "runDetails" in predicate
    if predicate_type == PREDICATE_V1 or (not predicate_type and looks_v1):
        if not looks_v1:
            raise ProtocolError("SLSA v1 provenance without 'buildDefinition' or 'runDetails'")
        parts = _parts_v1(predicate)
    elif predicate_type == PREDICATE_V02 or (
        not predicate_type and ("invocation" in predicate or "buildType" in predicate)
    ):
        if looks_v1:
            raise ProtocolError("SLSA v0.2 statement holding a v1 predicate ('buildDefinition')")
        parts = _parts_v02(predicate)
    elif predicate_type:
        raise ProtocolError(f"unsupported SLSA provenance version {predicate_type!r}")
    else:
        raise ProtocolError(
            "not a SLSA provenance predicate (neither 'buildDefinition' nor 'invocation')"
        )
    return _assemble(parts, subjects, result_platform)


def _unwrap_dsse(top: Obj) -> Obj:
    """A DSSE envelope (``payloadType``, base64 ``payload``) gives the statement inside."""
    if "payload" not in top or "payloadType" not in top:
        return top
    payload_type = top.text("payloadType")
    if payload_type != INTOTO_MEDIA_TYPE:
        raise ProtocolError(f"DSSE envelope holds {payload_type!r}, not an in-toto statement")
    try:
        inner = json.loads(base64.b64decode(top.text("payload"), validate=True))
    except (binascii.Error, ValueError) as e:
        raise ProtocolError(f"DSSE envelope payload is not base64 JSON: {e}") from None
    return Obj(inner, "$.payload")


# --- the two SLSA layouts, reduced to the same parts ------------------------------------


@dataclass(frozen=True, slots=True)
class _Parts:
    """The version-independent pieces of a predicate, still as JSON."""

    version: SlsaVersion
    build_type: str
    builder_id: str
    builder_version: dict[str, str]
    materials: list[Obj]
    config_source: ConfigSource
    request: Obj
    builder_platform: str
    dockerfile_version: str
    environment: dict[str, JSONValue]
    build_config: Obj | None
    buildkit: Obj
    metadata: RunMetadata


def _parts_v02(p: Obj) -> _Parts:
    inv = p.obj("invocation")
    cs = inv.obj("configSource")
    env = inv.obj("environment")
    meta = p.obj("metadata")
    complete = meta.obj("completeness")
    return _Parts(
        version=SlsaVersion.V0_2,
        build_type=p.text("buildType"),
        builder_id=p.obj("builder").text("id"),
        builder_version={},
        materials=p.objs("materials"),
        config_source=ConfigSource(cs.text("uri"), cs.text_map("digest"), cs.text("entryPoint")),
        request=inv.obj("parameters"),
        builder_platform=env.text("platform"),
        dockerfile_version=env.text("dockerfileVersion"),
        environment={k: v for k, v in env.d.items() if k not in ("platform", "dockerfileVersion")},
        build_config=p.opt_obj("buildConfig"),
        buildkit=meta.obj(_BUILDKIT_METADATA_V02),
        metadata=RunMetadata(
            invocation_id=meta.text("buildInvocationID"),
            started_on=_time(meta, "buildStartedOn"),
            finished_on=_time(meta, "buildFinishedOn"),
            complete_request=complete.flag("parameters"),
            complete_environment=complete.flag("environment"),
            complete_materials=complete.flag("materials"),
            reproducible=meta.flag("reproducible"),
            hermetic=meta.flag(_BUILDKIT_HERMETIC_V02),
        ),
    )


def _parts_v1(p: Obj) -> _Parts:
    bd = p.obj("buildDefinition")
    ext = bd.obj("externalParameters")
    cs = ext.obj("configSource")
    internal = bd.obj("internalParameters")
    run = p.obj("runDetails")
    builder = run.obj("builder")
    meta = run.obj("metadata")
    complete = meta.obj("buildkit_completeness")
    known = ("buildConfig", "builderPlatform", "dockerfileVersion")
    return _Parts(
        version=SlsaVersion.V1,
        build_type=bd.text("buildType"),
        builder_id=builder.text("id"),
        builder_version=builder.text_map("version"),
        materials=bd.objs("resolvedDependencies"),
        config_source=ConfigSource(cs.text("uri"), cs.text_map("digest"), cs.text("path")),
        request=ext.obj("request"),
        builder_platform=internal.text("builderPlatform"),
        dockerfile_version=internal.text("dockerfileVersion"),
        environment={k: v for k, v in internal.d.items() if k not in known},
        build_config=internal.opt_obj("buildConfig"),
        buildkit=meta.obj("buildkit_metadata"),
        metadata=RunMetadata(
            invocation_id=meta.text("invocationId"),
            started_on=_time(meta, "startedOn"),
            finished_on=_time(meta, "finishedOn"),
            complete_request=complete.flag("request"),
            complete_environment=None,
            complete_materials=complete.flag("resolvedDependencies"),
            reproducible=meta.flag("buildkit_reproducible"),
            hermetic=meta.flag("buildkit_hermetic"),
        ),
    )


def _time(o: Obj, key: str) -> float | None:
    """RFC 3339 (Go ``time.Time`` JSON, nanoseconds) to seconds since the epoch."""
    text = o.text(key)
    if not text:
        return None
    m = _RFC3339.fullmatch(text)
    if not m:
        raise ProtocolError(f"provenance {o.path}.{key}: not an RFC 3339 time: {text!r}")
    date, clock, frac, zone = m.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        base = datetime.fromisoformat(f"{date}T{clock}{offset}")
    except ValueError:
        raise ProtocolError(f"provenance {o.path}.{key}: not a valid time: {text!r}") from None
    seconds = (base - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(seconds=1)
    return seconds + (int(frac) / 10 ** len(frac) if frac else 0.0)


# --- assembling the model ---------------------------------------------------------------


def _assemble(
    parts: _Parts, subjects: tuple[Material, ...], result_platform: Platform | None
) -> Provenance:
    bk = parts.buildkit
    source = bk.obj("source")
    locations = source.obj("locations")
    steps: tuple[Step, ...] = ()
    mapping: dict[str, str] = {}
    if parts.build_config is not None:
        steps, mapping = _steps(parts.build_config, locations)
    sources = tuple(_source_file(info) for info in source.objs("infos"))
    return Provenance(
        slsa_version=parts.version,
        predicate_type=PREDICATE_V1 if parts.version is SlsaVersion.V1 else PREDICATE_V02,
        build_type=parts.build_type,
        mode=ProvenanceMode.MAX if steps else ProvenanceMode.MIN,
        builder_id=parts.builder_id,
        builder_version=parts.builder_version,
        request=_request(parts),
        steps=steps,
        digest_mapping=mapping,
        sources=sources,
        materials=tuple(_material(m, "uri") for m in parts.materials),
        layers=_layers(bk.obj("layers")),
        vcs=bk.text_map("vcs"),
        metadata=parts.metadata,
        network=bk.raw("network"),
        sys_usage=bk.raw("sysUsage"),
        subjects=subjects,
        result_platform=result_platform,
    )


def _request(parts: _Parts) -> Request:
    r = parts.request
    args = r.text_map("args")
    return Request(
        frontend=r.text("frontend"),
        build_args={k[len(_BUILD_ARG) :]: v for k, v in args.items() if k.startswith(_BUILD_ARG)},
        frontend_attrs={k: v for k, v in args.items() if not k.startswith(_BUILD_ARG)},
        locals=tuple(o.text("name") for o in r.objs("locals")),
        secrets=tuple(SessionRef(o.text("id"), o.flag("optional")) for o in r.objs("secrets")),
        ssh=tuple(SessionRef(o.text("id"), o.flag("optional")) for o in r.objs("ssh")),
        config_source=parts.config_source,
        builder_platform=parts.builder_platform,
        dockerfile_version=parts.dockerfile_version,
        environment=parts.environment,
        compatibility_version=r.num("compatibilityVersion"),
        inputs=r.raw("inputs"),
        root=r.raw("root"),
    )


def _material(o: Obj, uri_key: str) -> Material:
    return Material(o.text(uri_key), o.text_map("digest"))


def _layers(o: Obj) -> dict[str, tuple[tuple[Descriptor, ...], ...]]:
    out: dict[str, tuple[tuple[Descriptor, ...], ...]] = {}
    for ref, chains in o.d.items():
        at = o._at(ref)
        if not isinstance(chains, list):
            raise ProtocolError(f"provenance {at}: expected a list, got {kind(chains)}")
        out[ref] = tuple(
            tuple(_descriptor(Obj(d, f"{at}[{i}][{j}]")) for j, d in enumerate(_as_list(c, at)))
            for i, c in enumerate(chains)
        )
    return out


def _as_list(value: object, at: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"provenance {at}: expected a list, got {kind(value)}")
    return value


def _descriptor(o: Obj) -> Descriptor:
    return Descriptor(
        o.text("mediaType"), o.text("digest"), o.num("size"), o.text_map("annotations")
    )


def _source_file(o: Obj) -> SourceFile:
    data = o.text("data")
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8", errors="replace")
    except binascii.Error:
        raise ProtocolError(f"provenance {o.path}.data: not base64") from None
    steps, mapping = _steps(o, Obj({}, o.path))
    return SourceFile(
        filename=o.text("filename"),
        language=o.text("language"),
        text=text,
        steps=steps,
        digest_mapping=mapping,
    )


def _steps(config: Obj, locations: Obj) -> tuple[tuple[Step, ...], dict[str, str]]:
    """``llbDefinition`` + ``digestMapping`` (in a buildConfig or a source info) to steps."""
    mapping = config.text_map("digestMapping")
    digest_of: dict[str, str] = {}
    for dgst, step_id in mapping.items():
        if step_id in digest_of:
            raise ProtocolError(
                f"provenance {config.path}.digestMapping: two digests for {step_id}"
            )
        digest_of[step_id] = dgst
    steps: list[Step] = []
    for i, o in enumerate(config.objs("llbDefinition")):
        step_id = o.text("id")
        if step_id != f"step{i}":
            raise ProtocolError(f"provenance {o.path}.id: expected 'step{i}', got {step_id!r}")
        step = Step(
            id=step_id,
            op=decode_op(o.obj("op")),
            digest=digest_of.get(step_id),
            inputs=tuple(_step_input(v, f"{o.path}.inputs") for v in o.texts("inputs")),
            locations=tuple(_location(loc) for loc in locations.obj(step_id).objs("locations")),
            resource_usage=o.raw("resourceUsage"),
        )
        for inp in step.inputs:
            # Upstream writes inputs before their users: anything else is not BuildKit's.
            if int(inp.step.removeprefix("step")) >= i:
                raise ProtocolError(
                    f"provenance {o.path}.inputs: {inp.step} is not an earlier step"
                )
        steps.append(step)
    return tuple(steps), mapping


def _step_input(ref: str, at: str) -> StepInput:
    step, _, out = ref.rpartition(":")
    if not _STEP_ID.fullmatch(step) or not out.isdigit():
        raise ProtocolError(f"provenance {at}: not a step output: {ref!r}")
    return StepInput(step, int(out))


def _location(o: Obj) -> Location:
    return Location(
        source_index=o.num("sourceIndex"),
        ranges=tuple(
            Range(_position(r.obj("start")), _position(r.obj("end"))) for r in o.objs("ranges")
        ),
    )


def _position(o: Obj) -> Position:
    return Position(o.num("line"), o.num("character"))


# --- ops --------------------------------------------------------------------------------
