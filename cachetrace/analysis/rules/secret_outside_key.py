"""``secret-outside-key``: a step whose output depends on a secret the key never sees."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from cachetrace.model.llb import MountType

from ..common import make_finding, shown, written_files
from ..context import BuildContext
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule
from ..shell import SimpleCommand, fetches, has_checksum_check, parse

ID = "secret-outside-key"
_COPIERS = {"cp", "mv", "install", "tee", "dd", "rsync", "ln"}


def _uses(cmd: SimpleCommand, refs: tuple[str, ...]) -> bool:
    return any(r in w for w in (*cmd.words, *(v for _, v in cmd.assignments)) for r in refs)


def classify(script: str, refs: tuple[str, ...]) -> tuple[str, list[str]]:
    """How the script uses the secret: ``written`` (its value, or something derived from it,
    ends up in a file), ``auth`` (only as a credential of a fetch), ``unknown`` (read by a
    command we cannot see into), ``unused``; with the commands that show it."""
    commands = parse(script)
    using = [c for c in commands if _uses(c, refs)]
    if not using:
        return "unused", []
    for c in using:
        if fetches(c):
            continue  # a credential of a download: what is written is what was fetched
        pipeline = [p for p in commands if p.pipeline == c.pipeline]
        targets = [
            t for p in pipeline for t in p.redirects if t not in ("/dev/null", "/dev/stderr")
        ]
        if targets or c.name in _COPIERS:
            texts = [
                p.text + (" > " + " ".join(p.redirects) if p.redirects else "") for p in pipeline
            ]
            return "written", texts
    if all(fetches(c) for c in using):
        return "auth", [c.text for c in using]
    return "unknown", [c.text for c in using]


def check(ctx: BuildContext) -> Iterator[Finding]:
    for group in ctx.groups():
        first = group.first
        exec_op = first.exec
        if exec_op is None:
            continue
        secrets: list[tuple[str, tuple[str, ...], str]] = []
        for m in exec_op.mounts_of(MountType.SECRET):
            sid = m.secret.id if m.secret is not None else posixpath.basename(m.dest)
            secrets.append((sid, (m.dest,), f"mounted at {m.dest}"))
        for env in exec_op.secret_env:
            secrets.append((env.id, (f"${env.name}", f"${{{env.name}}}"), f"as env {env.name}"))
        for m in exec_op.mounts_of(MountType.SSH):
            sid = (m.ssh.id if m.ssh is not None else "") or "default"
            secrets.append((f"ssh:{sid}", (), f"ssh agent at {m.dest}"))
        script = first.command()
        for sid, refs, how in secrets:
            use, texts = classify(script, refs) if refs else ("unknown", [])
            verified = has_checksum_check(script)
            if use == "written":
                severity = Severity.WARNING
                message = f"the step writes a value derived from secret {sid}"
            elif use == "auth" and verified:
                severity = Severity.INFO
                message = (
                    f"secret {sid} only authenticates a checksum-verified download: the "
                    "output cannot depend on it"
                )
            else:
                severity = Severity.INFO
                message = f"secret {sid} is outside the key: changing it never re-runs this step"
            evidence = [
                Evidence(
                    EvidenceKind.OP_FIELD, f"secret {sid} {how} (its value is never in the key)"
                )
            ]
            for t in texts[:4]:
                evidence.append(Evidence(EvidenceKind.COMMAND, f"`{shown(t, 160)}`"))
            if use == "auth" and verified:
                evidence.append(
                    Evidence(
                        EvidenceKind.COMMAND, "the step checks what it fetched with a checksum"
                    )
                )
            pv = ctx.platforms[first.platform]
            for e in written_files(pv, first.step.id, 4):
                evidence.append(
                    Evidence(
                        EvidenceKind.OUTPUT,
                        f"the step wrote {e.path} ({e.size} bytes, sha256 {e.sha256})",
                        first.platform,
                    )
                )
            if first.vertex is not None:
                evidence.append(
                    Evidence(
                        EvidenceKind.VERTEX,
                        "this run was a cache hit: the output was made with whatever secret "
                        "value the first run had"
                        if first.vertex.cached
                        else "this run executed the step",
                    )
                )
            for record in ctx.records_of(first)[:1]:
                evidence.append(Evidence(EvidenceKind.KEY, f"cache export record {record}"))
            kv = first.key_view()
            if kv is not None:
                evidence.append(
                    Evidence(
                        EvidenceKind.KEY,
                        f"exec cache key {kv.cache_digest} holds the secret's id and target only",
                    )
                )
            yield make_finding(
                ID,
                severity,
                message,
                group=group,
                evidence=evidence,
                explanation=(
                    "BuildKit keeps secret values out of cache keys on purpose: only the id "
                    "and target of a secret mount are hashed. A step whose output is derived "
                    "from the secret is therefore served from cache after the secret "
                    "changes (a rotated token, another user's credentials), shipping the "
                    "old value's result, and the layer carries something derived from a "
                    "secret."
                ),
                fix=(
                    "Do not write secrets or values derived from them into layers. Use the "
                    "secret only to authenticate a fetch whose result is pinned (checksum, "
                    "lock file). If the output must follow the secret, put a non-secret "
                    "version of it in the key (an ARG with the token's fingerprint or "
                    "rotation date)."
                ),
                key=sid,
            )


RULE = Rule(
    id=ID,
    title="Output depends on a secret outside the key",
    severity=Severity.WARNING,
    summary=(
        "Secret and ssh mounts never enter the key: warning when the step writes a value "
        "derived from the secret, info otherwise."
    ),
    check=check,
)
