"""``network-fetch-unpinned``: a step whose output is whatever the network serves."""

from __future__ import annotations

from collections.abc import Iterator

from ..common import (
    fetch_env_evidence,
    make_finding,
    module_versions,
    unpinned_reasons,
    written_files,
)
from ..context import BuildContext
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule

ID = "network-fetch-unpinned"


def check(ctx: BuildContext) -> Iterator[Finding]:
    for group in ctx.groups():
        first = group.first
        reasons = unpinned_reasons(ctx, first)
        if not reasons:
            continue
        evidence = [*reasons, *fetch_env_evidence(first)]
        for record in ctx.records_of(first)[:1]:
            evidence.append(Evidence(EvidenceKind.KEY, f"cache export record {record}"))
        kv = first.key_view()
        if kv is not None:
            evidence.append(
                Evidence(
                    EvidenceKind.KEY,
                    f"exec cache key {kv.cache_digest}: the command and env, never what the "
                    "network returned",
                )
            )
        for m in group.members:
            pv = ctx.platforms[m.platform]
            for b in pv.binaries_of(m.step.id):
                versions = module_versions(b)
                if versions:
                    evidence.append(
                        Evidence(EvidenceKind.BINARY, f"{b.path} built with {versions}", m.platform)
                    )
            if not pv.binaries_of(m.step.id):
                for e in written_files(pv, m.step.id, 3):
                    evidence.append(
                        Evidence(
                            EvidenceKind.OUTPUT,
                            f"wrote {e.path} ({e.size} bytes, sha256 {e.sha256})",
                            m.platform,
                        )
                    )
            if m.vertex is not None and m.vertex.cached:
                evidence.append(
                    Evidence(
                        EvidenceKind.VERTEX,
                        "this run was a cache hit: the output is what the network served "
                        "when the key was first filled",
                        m.platform,
                    )
                )
            break  # one platform's outputs are enough evidence
        yield make_finding(
            ID,
            Severity.WARNING,
            "the step's output depends on what the network serves at build time",
            group=group,
            evidence=evidence,
            explanation=(
                "An exec step's cache key holds its command, env and inputs, never what it "
                "downloaded. A step that resolves `@latest`, a branch, an unlocked module "
                "graph or an unchecked URL gives whatever the server had when the key was "
                "first filled: cached builds keep shipping that (stale) result, and an "
                "uncached rebuild with the same key can ship something else."
            ),
            fix=(
                "Pin what is fetched: commit go.mod and go.sum and copy both before `go mod "
                "download` (no `-mod=mod`, keep GOSUMDB on), use exact versions instead of "
                "@latest, and check downloads against a checksum in the Dockerfile "
                '(`echo "<sha256>  file" | sha256sum -c -`). To pick up new versions on '
                "purpose, change the pin (and with it the key)."
            ),
            key="|".join(
                sorted(e.text.split("`")[1] if "`" in e.text else e.text for e in reasons)
            ),
        )


RULE = Rule(
    id=ID,
    title="Unpinned network fetch",
    severity=Severity.WARNING,
    summary=(
        "A step with network access whose output depends on the outside world: `go get`/"
        "`go install …@latest`, `go mod download` with -mod=mod or without go.sum, "
        "`apt-get update`, curl/wget without a checksum."
    ),
    check=check,
)
