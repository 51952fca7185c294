"""``missing-interpreter``: a dynamic ELF whose PT_INTERP is not in the final filesystem."""

from __future__ import annotations

from collections.abc import Iterator

from cachetrace.model.llb import OpKind

from ..common import describe_binary, make_finding, step_where
from ..context import BuildContext
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule
from .wrong_arch_output import is_program

ID = "missing-interpreter"
_MUSL = "/lib/ld-musl-"
_GLIBC = ("/lib64/ld-linux", "/lib/ld-linux")


def check(ctx: BuildContext) -> Iterator[Finding]:
    for platform, pv in ctx.platforms.items():
        fs = pv.final_filesystem
        if fs is None:
            continue
        loaders = [p for p in fs.paths() if "/ld-" in p and ".so" in p]
        target_os = platform.partition("/")[0]
        for path, origin in sorted(pv.final_files.items()):
            b = origin.binary
            if b is None or not b.interpreter or b.truncated or not is_program(b):
                continue
            if not origin.entry.mode & 0o111 or (b.os and b.os != target_os):
                continue  # not executable here (test data, another OS's binary)
            if fs.exists(b.interpreter):
                continue
            producer = origin.step
            if producer is not None and producer.step.op.kind is OpKind.SOURCE:
                continue  # shipped by the base image as it is, not made by this build
            evidence = [
                Evidence(EvidenceKind.BINARY, f"{path}: {describe_binary(b)}", platform),
            ]
            if b.needed:
                evidence.append(
                    Evidence(EvidenceKind.BINARY, f"DT_NEEDED {', '.join(b.needed)}", platform)
                )
            if b.go is not None:
                mode = b.go.settings.get("-buildmode", "exe")
                cgo = b.go.settings.get("CGO_ENABLED", "?")
                evidence.append(
                    Evidence(
                        EvidenceKind.BINARY,
                        f"Go build info -buildmode={mode} CGO_ENABLED={cgo}",
                        platform,
                    )
                )
            evidence.append(
                Evidence(
                    EvidenceKind.OUTPUT,
                    f"the {platform} final filesystem ({len(fs)} entries) has no "
                    f"{b.interpreter}"
                    + (f"; loaders present: {', '.join(loaders[:3])}" if loaders else ""),
                    platform,
                )
            )
            if loaders and b.interpreter.startswith(_GLIBC) and any(_MUSL in p for p in loaders):
                evidence.append(
                    Evidence(EvidenceKind.NOTE, "a glibc binary in a musl image", platform)
                )
            elif loaders and b.interpreter.startswith(_MUSL):
                evidence.append(
                    Evidence(EvidenceKind.NOTE, "a musl binary in a glibc image", platform)
                )
            if producer is not None:
                evidence.append(
                    Evidence(EvidenceKind.OUTPUT, f"written by {step_where(producer)}", platform)
                )
            yield make_finding(
                ID,
                Severity.ERROR,
                f"{path} needs {b.interpreter}, which the {platform} image does not have",
                view=producer,
                evidence=evidence,
                explanation=(
                    "A dynamically linked ELF names its loader in PT_INTERP; the kernel opens "
                    "that path before the program runs. When the image lacks it (FROM "
                    "scratch, distroless/static, or a musl image for a glibc binary) the "
                    "container fails at start with `exec …: no such file or directory`, "
                    "although the file is there. The build and its cache are green: nothing "
                    "runs the binary until deployment."
                ),
                fix=(
                    "Link statically (Go: CGO_ENABLED=0 and no -buildmode=pie, or "
                    "`-ldflags '-linkmode external -extldflags -static'`), or base the final "
                    "stage on an image that has the loader and libraries (distroless/base for "
                    "glibc, alpine for musl)."
                ),
                key=f"{platform}:{path}:{b.interpreter}",
            )


RULE = Rule(
    id=ID,
    title="Dynamic executable without its interpreter",
    severity=Severity.ERROR,
    summary=(
        "A dynamically linked ELF in an image whose final filesystem lacks its PT_INTERP "
        "(scratch, or musl vs glibc loader): it fails at run time."
    ),
    check=check,
)
