"""``wrong-arch-output``: an executable in a platform's output built for another platform."""

from __future__ import annotations

from collections.abc import Iterator

from cachetrace.model.llb import OpKind
from cachetrace.model.oci import Platform
from cachetrace.model.outputs import BinaryInfo, ExecutableFormat

from ..common import arch_name, describe_binary, make_finding, shown, step_where
from ..context import BuildContext, FileOrigin, PlatformView
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule
from ..shell import parse

ID = "wrong-arch-output"
_NO_TARGET = "none (no TARGETOS, TARGETARCH, GOOS or GOARCH in env or command)"


def is_program(b: BinaryInfo) -> bool:
    """An ELF a kernel would run (not an object file, not a plain shared library)."""
    if b.format is not ExecutableFormat.ELF:
        return False
    if b.elf_type == "EXEC":
        return True
    return b.elf_type == "DYN" and (b.interpreter is not None or b.go is not None)


def mismatch(b: BinaryInfo, target: Platform) -> str:
    """Why ``b`` is not for ``target``, "" when it is."""
    reasons = []
    if b.arch != target.architecture:
        reasons.append(f"ELF machine {arch_name(b.arch)} ({b.machine})")
    if b.go is not None:
        if b.go.goarch and b.go.goarch != target.architecture:
            reasons.append(f"Go build info GOARCH={b.go.goarch}")
        if b.go.goos and b.go.goos != target.os:
            reasons.append(f"Go build info GOOS={b.go.goos}")
    return " and ".join(reasons)


def _origin_step(pv: PlatformView, origin: FileOrigin) -> FileOrigin:
    if origin.step is not None:
        return origin
    # Exported files: find the step whose own layer wrote this path with this content.
    for view in pv.steps.values():
        for e in pv.entries_of(view.step.id):
            if e.path == origin.entry.path and e.sha256 == origin.entry.sha256:
                return FileOrigin(origin.entry, origin.binary, view, origin.layer)
    return origin


def check(ctx: BuildContext) -> Iterator[Finding]:
    for platform, pv in ctx.platforms.items():
        try:
            target = Platform.parse(platform)
        except ValueError:
            continue
        for path, found in sorted(pv.final_files.items()):
            b = found.binary
            if b is None or not is_program(b) or (b.truncated and not b.arch):
                continue
            if not found.entry.mode & 0o111:
                continue  # not executable: data that happens to be ELF (test fixtures)
            why = mismatch(b, target)
            if not why:
                continue
            origin = _origin_step(pv, found)
            producer = origin.step
            if (
                producer is not None
                and producer.step.op.kind is OpKind.SOURCE
                and producer.op_platform == platform
            ):
                continue  # the target's own base image says so: not ours to judge
            evidence = [
                Evidence(
                    EvidenceKind.BINARY,
                    f"{platform} output {path}: {describe_binary(b)}",
                    platform,
                ),
                Evidence(
                    EvidenceKind.NOTE,
                    f"the target platform is {platform} ({arch_name(target.architecture)}); "
                    f"the file has {why}",
                    platform,
                ),
            ]
            if origin.entry.sha256:
                evidence.append(
                    Evidence(EvidenceKind.OUTPUT, f"{path} sha256 {origin.entry.sha256}", platform)
                )
            if producer is not None:
                evidence.append(
                    Evidence(
                        EvidenceKind.OUTPUT,
                        f"written into the {platform} result by {step_where(producer)}",
                        platform,
                    )
                )
                if origin.entry.sha256:
                    made = pv.origin_of_content(origin.entry.sha256, producer.step.id)
                    if made is not None:
                        op_plat = made.op_platform or "unset"
                        evidence.append(
                            Evidence(
                                EvidenceKind.OP_FIELD,
                                f"the same content was made by {step_where(made)}, whose op "
                                f"platform is {op_plat}",
                                platform,
                            )
                        )
                        if made.exec is not None:
                            env = made.env()
                            names = ("TARGETOS", "TARGETARCH", "GOOS", "GOARCH")
                            named = [f"{k}={env[k]}" for k in names if k in env]
                            named += [
                                f"{k}={v} (in the command)"
                                for c in parse(made.command())
                                for k, v in (*c.assignments, *c.exports)
                                if k in names
                            ]
                            evidence.append(
                                Evidence(
                                    EvidenceKind.ENV,
                                    "the target that step names: "
                                    + (", ".join(named) if named else _NO_TARGET)
                                    + f"; command `{shown(made.command(), 160)}`",
                                    platform,
                                )
                            )
            yield make_finding(
                ID,
                Severity.ERROR,
                f"{path} in the {platform} output is built for "
                f"{b.os or target.os}/{b.go.goarch if b.go and b.go.goarch else b.arch}",
                view=producer,
                step=producer.ref() if producer is not None else None,
                evidence=evidence,
                explanation=(
                    "The step that made this file ran on the build platform and nothing in its "
                    "cache key named the target platform, so the same result (or a result "
                    "made for another target) was reused for this platform. The image is "
                    "labelled for one architecture and carries an executable for another: "
                    "it fails at run time with `exec format error`, and the cache keeps "
                    "serving it because every key involved is unchanged."
                ),
                fix=(
                    "Compile for the target: declare `ARG TARGETOS TARGETARCH` in the stage "
                    "and build with `GOOS=$TARGETOS GOARCH=$TARGETARCH go build …` (or the "
                    "equivalent cross-compiler flags), or copy the file from a stage that runs "
                    "on the target platform (no `--platform=$BUILDPLATFORM` on its FROM)."
                ),
                key=f"{platform}:{path}",
            )


RULE = Rule(
    id=ID,
    title="Executable in a platform's output built for another platform",
    severity=Severity.ERROR,
    summary=(
        "A binary in a target platform's output (image layers or exported files) whose ELF "
        "machine or Go GOOS/GOARCH differs from that platform."
    ),
    check=check,
)
