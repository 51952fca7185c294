"""``platform-collapse``: a compile step shared by several target platforms."""

from __future__ import annotations

from collections.abc import Iterator

from cachetrace.model.oci import Platform

from ..common import arch_name, describe_binary, make_finding, shown
from ..context import BuildContext, StepView
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule
from ..shell import compiles, parse

ID = "platform-collapse"
TARGET_VARS = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT")
GO_TARGET_VARS = ("GOOS", "GOARCH", "GOARM", "GOAMD64")


def _target_arch(platform: str) -> str:
    try:
        return Platform.parse(platform).architecture
    except ValueError:
        return ""


def check(ctx: BuildContext) -> Iterator[Finding]:
    if not ctx.multi_platform:
        return
    for group in ctx.groups():
        for digest, members in group.vertices().items():
            platforms = tuple(dict.fromkeys(m.platform for m in members))
            if len(platforms) < 2 or not digest:
                continue
            first = members[0]
            compile_cmds = [c for c in parse(first.command()) if compiles(c)]
            if not compile_cmds:
                continue
            yield _finding(ctx, first, members, platforms, compile_cmds[0].text)


def _finding(
    ctx: BuildContext,
    first: StepView,
    members: tuple[StepView, ...],
    platforms: tuple[str, ...],
    compile_text: str,
) -> Finding:
    env = first.env()
    evidence = [
        Evidence(
            EvidenceKind.VERTEX,
            f"one LLB vertex {first.digest} for the target platforms {', '.join(platforms)}",
        ),
        Evidence(
            EvidenceKind.OP_FIELD,
            f"op platform {first.op_platform or 'unset'} for every target (the build "
            "platform, from FROM --platform=$BUILDPLATFORM)",
        ),
        Evidence(EvidenceKind.COMMAND, f"compiles: `{shown(compile_text, 160)}`"),
    ]
    kv = first.key_view()
    if kv is not None:
        evidence.append(
            Evidence(EvidenceKind.KEY, f"one exec cache key {kv.cache_digest} for all targets")
        )
    records = sorted({r for m in members for r in ctx.records_of(m)})
    if records:
        evidence.append(
            Evidence(
                EvidenceKind.KEY,
                f"cache export record(s) of the step, shared by every target: {', '.join(records)}",
            )
        )
    target_env = [f"{k}={env[k]}" for k in TARGET_VARS if k in env]
    go_env = [f"{k}={env[k]}" for k in GO_TARGET_VARS if k in env]
    assigned = [
        f"{k}={v}"
        for c in parse(first.command())
        for k, v in (*c.assignments, *c.exports)
        if k in GO_TARGET_VARS
    ]
    if not target_env and not go_env and not assigned:
        evidence.append(
            Evidence(
                EvidenceKind.ENV,
                "no TARGETOS/TARGETARCH/TARGETPLATFORM/GOOS/GOARCH in the step's env or args",
            )
        )
    else:
        evidence.append(
            Evidence(
                EvidenceKind.ENV,
                "the target is hard-coded, the same for every platform: "
                + ", ".join([*target_env, *go_env, *assigned]),
            )
        )
    severity = Severity.WARNING
    outputs: dict[str, list[str]] = {}
    for m in members:
        pv = ctx.platforms[m.platform]
        bins = pv.binaries_of(m.step.id)
        shas = {
            e.sha256: e.path
            for e in pv.entries_of(m.step.id)
            if e.sha256 and any(b.path == e.path for b in bins)
        }
        for b in bins:
            if m is members[0]:
                evidence.append(
                    Evidence(EvidenceKind.BINARY, f"the step made {b.path}: {describe_binary(b)}")
                )
        for path, origin in sorted(pv.final_files.items()):
            if origin.entry.sha256 in shas:
                outputs.setdefault(origin.entry.sha256 or "", []).append(f"{m.platform} {path}")
                out_bin = origin.binary
                arch = _target_arch(m.platform)
                if out_bin is not None and arch and out_bin.arch != arch:
                    severity = Severity.ERROR
                    evidence.append(
                        Evidence(
                            EvidenceKind.OUTPUT,
                            f"the {m.platform} output {path} is this step's "
                            f"{arch_name(out_bin.arch)} binary (sha256 {origin.entry.sha256}), "
                            f"not {arch_name(arch)}",
                            m.platform,
                        )
                    )
    for sha, where in outputs.items():
        if len(where) > 1:
            evidence.append(
                Evidence(
                    EvidenceKind.OUTPUT,
                    f"byte-identical outputs (sha256 {sha}): {'; '.join(where)}",
                )
            )
    if (
        severity is Severity.WARNING
        and any(ctx.platforms[m.platform].binaries_of(m.step.id) for m in members)
        and not outputs
    ):
        severity = Severity.INFO  # it builds a build-platform tool that no output ships
    return make_finding(
        ID,
        severity,
        f"compile step shared by {len(platforms)} target platforms: one key, one result"
        + (
            " (a build-platform tool: none of its binaries reaches an output)"
            if severity is Severity.INFO
            else ""
        ),
        view=first,
        step=first.ref(platforms),
        evidence=evidence,
        explanation=(
            "In a multi-platform build each target gets its own LLB, but a step whose op and "
            "inputs are the same for every target has the same vertex digest and cache key, "
            "so BuildKit runs it once and hands the one result to every platform. A stage "
            "`FROM --platform=$BUILDPLATFORM` runs on the build machine; unless the target "
            "(TARGETOS/TARGETARCH) reaches the compile step, nothing in its key differs per "
            "target and every image gets the build machine's binary."
        ),
        fix=(
            "Bring the target into the step: `ARG TARGETOS TARGETARCH` in the stage and "
            "`RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build …` (for C toolchains, pick the "
            "cross compiler from TARGETARCH). Do not hard-code GOARCH. If the step builds a "
            "tool for the build machine on purpose, keep it out of the final image."
        ),
        key=f"{first.op_platform}:{compile_text}",
    )


RULE = Rule(
    id=ID,
    title="Compile step collapsed across target platforms",
    severity=Severity.ERROR,
    summary=(
        "In a multi-platform build, a step that compiles for a target has one vertex and key "
        "for several target platforms because nothing in its key names the target."
    ),
    check=check,
)
