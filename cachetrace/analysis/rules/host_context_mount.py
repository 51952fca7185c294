"""``host-context-mount``: a bind mount of the host's build context used as a cache."""

from __future__ import annotations

from collections.abc import Iterator

from cachetrace.model.llb import MountType, OpKind

from ..common import cache_like, describe_mount, go_cache_description, make_finding, shown
from ..context import BuildContext
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule

ID = "host-context-mount"


def check(ctx: BuildContext) -> Iterator[Finding]:
    for group in ctx.groups():
        first = group.first
        exec_op = first.exec
        if exec_op is None:
            continue
        evidence: list[Evidence] = []
        keys: list[str] = []
        severity: Severity | None = None
        for m in exec_op.mounts_of(MountType.BIND):
            if m.dest == "/":
                continue
            source = ctx.mount_source(first, m)
            if source is None or source.step.op.source is None:
                continue
            src_op = source.step.op.source
            if src_op.scheme != "local" or source.step.op.kind is not OpKind.SOURCE:
                continue
            as_cache = cache_like(first, m.dest)
            if not as_cache and m.readonly:
                continue
            local_name = src_op.identifier.partition("://")[2] or "context"
            what = go_cache_description(first, m.dest)
            evidence.append(
                Evidence(
                    EvidenceKind.OP_FIELD,
                    f"bind mount {describe_mount(m)} from the host's {local_name} "
                    f"({src_op.identifier}, path {m.selector or '/'})"
                    + (f" at {m.dest}, {what}" if what else ""),
                )
            )
            if as_cache:
                evidence.append(
                    Evidence(
                        EvidenceKind.KEY,
                        f"the content of {m.selector or '/'} in the {local_name} is hashed into "
                        "the step's key (a content checksum of the mount's input): every "
                        "host-side change to it busts this step",
                    )
                )
            if not m.readonly:
                evidence.append(
                    Evidence(
                        EvidenceKind.OP_FIELD,
                        f"readonly=false with output {m.output}: what the step writes to "
                        f"{m.dest} is thrown away at the end of the step",
                    )
                )
            level = Severity.WARNING if as_cache else Severity.INFO
            if severity is None or level.rank > severity.rank:
                severity = level
            keys.append(f"{m.selector}:{m.dest}")
        if severity is None:
            continue
        evidence.insert(0, Evidence(EvidenceKind.COMMAND, f"command `{shown(first.command())}`"))
        yield make_finding(
            ID,
            severity,
            "a directory of the host's build context is bind-mounted as a cache"
            if severity is Severity.WARNING
            else "a writable bind mount of the build context: writes are discarded",
            group=group,
            evidence=evidence,
            explanation=(
                "A bind mount from the local context is an input of the step: BuildKit "
                "hashes its content into the cache key. Used as a build cache, every change "
                "the host makes to it (and every build that would have filled it) busts the "
                "step, so the cache makes builds slower instead of faster. A writable "
                "(`rw`) bind is a scratch copy: what the step writes there never reaches "
                "the host nor a later build, so the cache never fills."
            ),
            fix=(
                "Use a cache mount instead: `--mount=type=cache,target=/root/.cache/go-build` "
                "(and `/root/go/pkg/mod` for modules). Keep host binds read-only and for "
                "sources only, and keep cache directories out of the context (.dockerignore)."
            ),
            key="|".join(sorted(keys)),
        )


RULE = Rule(
    id=ID,
    title="Host context bind-mounted as a cache",
    severity=Severity.WARNING,
    summary=(
        "A bind mount from the build context used as GOCACHE/GOMODCACHE or another cache "
        "(every host change busts the key), or writable (writes are discarded)."
    ),
    check=check,
)
