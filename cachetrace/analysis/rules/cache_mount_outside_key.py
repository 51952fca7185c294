"""``cache-mount-outside-key``: cache mount contents that can change a step's output."""

from __future__ import annotations

from collections.abc import Iterator

from cachetrace.graph.key_view import OutsideKind
from cachetrace.model.llb import CacheSharing, Mount, MountType
from cachetrace.model.oci import Platform

from ..common import (
    arch_name,
    describe_mount,
    go_cache_description,
    go_cache_kind,
    make_finding,
    module_versions,
    package_cache_kind,
    shown,
    unpinned_reasons,
)
from ..context import BuildContext, StepGroup, StepView
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule

ID = "cache-mount-outside-key"


def _cache_id(m: Mount) -> str:
    return m.cache.id if m.cache is not None else m.dest


def _arch(platform: str) -> str:
    try:
        return Platform.parse(platform).architecture
    except ValueError:
        return ""


def _overlap(a: StepView, b: StepView) -> bool:
    va, vb = a.vertex, b.vertex
    if va is None or vb is None or va.cached or vb.cached:
        return False
    if None in (va.started, va.completed, vb.started, vb.completed):
        return False
    assert va.started is not None and va.completed is not None
    assert vb.started is not None and vb.completed is not None
    return va.started < vb.completed and vb.started < va.completed


def _users(ctx: BuildContext, cache_id: str) -> list[tuple[StepView, Mount]]:
    """Every exec vertex (once) that mounts this cache id."""
    seen: set[str] = set()
    out = []
    for view in ctx.step_views():
        if view.exec is None or view.digest in seen:
            continue
        for m in view.exec.mounts_of(MountType.CACHE):
            if _cache_id(m) == cache_id:
                seen.add(view.digest)
                out.append((view, m))
    return out


def _check_group(ctx: BuildContext, group: StepGroup) -> Finding | None:
    first = group.first
    assert first.exec is not None
    mounts = first.exec.mounts_of(MountType.CACHE)
    if not mounts:
        return None
    severity: Severity | None = None
    evidence: list[Evidence] = []
    headline = ""
    keys: list[str] = []

    def raise_to(level: Severity, message: str) -> None:
        nonlocal severity, headline
        if severity is None or level.rank > severity.rank:
            severity, headline = level, message

    vertices = group.vertices()
    per_platform = len(vertices) > 1 and len(group.platforms) > 1
    reasons = unpinned_reasons(ctx, first)
    kv = first.key_view()
    for m in mounts:
        cid = _cache_id(m)
        go_kind = go_cache_kind(first, m.dest)
        pkg_kind = package_cache_kind(first, m.dest)
        desc = go_cache_description(first, m.dest) or pkg_kind
        mount_text = f"cache mount {describe_mount(m)}" + (f" ({desc})" if desc else "")
        evidence.append(Evidence(EvidenceKind.OP_FIELD, mount_text))
        if kv is not None and any(o.target == m.dest for o in kv.outside_of(OutsideKind.CACHE_ID)):
            evidence.append(
                Evidence(
                    EvidenceKind.KEY,
                    f"the id {cid.lstrip('/')} is cleared from the key {kv.cache_digest} "
                    "(BuildKit >= 0.13): renaming it does not invalidate the step",
                )
            )
        # (a) a package cache on a step that fetches unpinned versions
        if pkg_kind and reasons:
            keys.append(f"unpinned:{m.dest}")
            evidence.extend(reasons)
            for member in group.members:
                for b in ctx.platforms[member.platform].binaries_of(member.step.id):
                    versions = module_versions(b)
                    if versions:
                        evidence.append(
                            Evidence(
                                EvidenceKind.BINARY,
                                f"{b.path} built with {versions}",
                                member.platform,
                            )
                        )
                break
            raise_to(
                Severity.WARNING,
                f"cache mount at {m.dest} ({desc}) holds what an unpinned fetch resolved, "
                "outside the key",
            )
        elif go_kind:
            keys.append(f"go:{m.dest}")
            raise_to(
                Severity.INFO,
                "Go's build cache (GOCACHE) as a cache mount: safe, Go keys every entry by "
                "content and target"
                if go_kind == "GOCACHE"
                else "Go's module cache (GOMODCACHE) as a cache mount with pinned modules: "
                "safe, go.sum checks what it holds",
            )
            if per_platform:
                evidence.append(
                    Evidence(
                        EvidenceKind.NOTE,
                        f"shared by the {', '.join(group.platforms)} vertices of this step: "
                        f"safe, {go_kind} entries are keyed by content"
                        + (" and GOOS/GOARCH" if go_kind == "GOCACHE" else "")
                        + ", so one target never reads another's result",
                    )
                )
        # (b) one cache shared by the per-platform vertices of this step
        if per_platform and not go_kind:
            keys.append(f"platforms:{cid}")
            evidence.append(
                Evidence(
                    EvidenceKind.VERTEX,
                    f"one cache (id {cid.lstrip('/')}) mounted by {len(vertices)} vertices of "
                    "this step, one per target: "
                    + "; ".join(
                        f"{vs[0].platform} {d[:19]}"
                        + (
                            f" (env TARGETARCH={vs[0].env()['TARGETARCH']})"
                            if "TARGETARCH" in vs[0].env()
                            else ""
                        )
                        for d, vs in vertices.items()
                    ),
                )
            )
            wrong = []
            shas: dict[str, list[str]] = {}
            for member in group.members:
                pv = ctx.platforms[member.platform]
                entries = {e.path: e for e in pv.entries_of(member.step.id)}
                for b in pv.binaries_of(member.step.id):
                    arch = _arch(member.platform)
                    entry = entries.get(b.path)
                    if entry is not None and entry.sha256:
                        shas.setdefault(entry.sha256, []).append(f"{member.platform} {b.path}")
                    if arch and b.arch != arch:
                        wrong.append(
                            Evidence(
                                EvidenceKind.BINARY,
                                f"the {member.platform} vertex wrote {b.path}: "
                                f"{arch_name(b.arch)} ({b.machine}), not {arch_name(arch)}",
                                member.platform,
                            )
                        )
            identical = [
                Evidence(
                    EvidenceKind.OUTPUT,
                    f"byte-identical executables for different targets (sha256 {sha}): "
                    + "; ".join(where),
                )
                for sha, where in shas.items()
                if len({w.split(" ")[0] for w in where}) > 1
            ]
            if wrong or identical:
                evidence.extend(wrong)
                evidence.extend(identical)
                raise_to(
                    Severity.ERROR,
                    f"cache {cid.lstrip('/')} is shared across target platforms and an "
                    "artefact in it is not keyed by target",
                )
            else:
                raise_to(
                    Severity.INFO,
                    f"cache {cid.lstrip('/')} is shared across target platforms: safe only if "
                    "the tool keys its entries by target",
                )
        # (c) sharing=shared with concurrent writers, of a tool not known to be safe
        if (
            m.cache is not None
            and m.cache.sharing is CacheSharing.SHARED
            and not go_kind
            and not pkg_kind
        ):
            users = _users(ctx, cid)
            mine = [v for v, _ in users if v.location == first.location]
            concurrent = [
                (x, y) for x in mine for y, _ in users if x.digest != y.digest and _overlap(x, y)
            ]
            if concurrent:
                a, other = concurrent[0]
                va, vb = a.vertex, other.vertex
                assert va is not None and vb is not None
                keys.append(f"shared:{cid}")
                evidence.append(
                    Evidence(
                        EvidenceKind.VERTEX,
                        f"sharing=shared cache {cid.lstrip('/')} used by vertices that ran at "
                        f"the same time: {a.platform} {a.digest[:19]} "
                        f"({va.started:.3f}-{va.completed:.3f}) and {other.platform} "
                        f"{other.digest[:19]} ({vb.started:.3f}-{vb.completed:.3f})",
                    )
                )
                shas = {}
                for member in group.members:
                    for e in ctx.platforms[member.platform].entries_of(member.step.id):
                        if e.sha256:
                            shas.setdefault(f"{e.path}:{e.sha256}", []).append(member.platform)
                for key, plats in shas.items():
                    if len(set(plats)) > 1:
                        path, _, sha = key.partition(":")
                        evidence.append(
                            Evidence(
                                EvidenceKind.OUTPUT,
                                f"{path} is byte-identical for {', '.join(plats)} "
                                f"(sha256 {sha}) although their keys differ",
                            )
                        )
                raise_to(
                    Severity.WARNING,
                    f"cache {cid.lstrip('/')} (sharing=shared) has concurrent writers",
                )
    if severity is None:
        return None
    command = Evidence(EvidenceKind.COMMAND, f"command `{shown(first.command(), 200)}`")
    return make_finding(
        ID,
        severity,
        headline,
        group=group,
        evidence=[command, *evidence],
        explanation=(
            "A cache mount's contents never enter the step's cache key (and since BuildKit "
            "0.13 neither does a non-default id): the key says the step is the same while "
            "what it reads from the mount can differ between builds, between target "
            "platforms that share the mount, and between concurrent users of a "
            "sharing=shared mount. Go's build and module caches are safe to share: they "
            "key every entry by content and target. Anything else copied out of a cache, "
            "or resolved into it by an unpinned fetch, is invisible to the key."
        ),
        fix=(
            "Keep cache mounts for caches that key their own entries (GOCACHE, GOMODCACHE "
            "with go.sum, apt archives); never copy results out of them. Give per-target "
            "caches an id with the target (`id=artefacts-$TARGETARCH`), use "
            "`sharing=locked` (or private) for tools that are not safe with concurrent "
            "writers, and pin what is fetched so the cache only speeds things up."
        ),
        key="|".join(sorted(keys)),
    )


def check(ctx: BuildContext) -> Iterator[Finding]:
    for group in ctx.groups():
        if group.first.exec is None:
            continue
        f = _check_group(ctx, group)
        if f is not None:
            yield f


RULE = Rule(
    id=ID,
    title="Cache mount contents outside the key",
    severity=Severity.ERROR,
    summary=(
        "Cache mounts whose contents can change a step's output: a package cache with an "
        "unpinned fetch, a cache shared across target platforms by a tool that does not key "
        "by target, sharing=shared with concurrent writers. Go's caches shared correctly "
        "are reported at info."
    ),
    check=check,
)
