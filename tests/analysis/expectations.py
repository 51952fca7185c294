"""Compare the analyser's findings on a scenario capture with its ``scenario.json``.

Exactly the expected findings at warning and above (rule, line, severity, platform when the
scenario names one), each with evidence from the capture; info findings are allowed (the
"sharing Go caches is safe" notes) but never on a line another rule's expectation excludes.
Shared by the unit tests (committed captures) and the engine tests (fresh recordings).
"""

from __future__ import annotations

from collections import Counter

from cachetrace.analysis import EvidenceKind, Finding, Severity
from tests.scenarios.spec import Scenario

# Facts each expected finding's evidence must show (substrings of evidence texts), by rule.
MUST_SHOW: dict[str, tuple[str, ...]] = {
    "wrong-arch-output": ("ELF", "x86-64"),
    "platform-collapse": ("one LLB vertex", "linux/amd64, linux/arm64", "x86-64"),
    "env-export-scope": ("in the step's args only",),
    "proxy-args-outside-key": ("meta.proxy_env", "https_proxy", "http_proxy", "network=host"),
    "network-fetch-unpinned": ("network=host",),
    "cache-mount-outside-key": ("cache mount type=cache",),
    "host-context-mount": ("bind mount", ".gocache", "/root/.cache/go-build", "readonly=false"),
    "secret-outside-key": ("secret tok", "/tok.sha256"),
    "missing-interpreter": ("/lib64/ld-linux-x86-64.so.2", "-buildmode=pie"),
}
CAPTURE_FACTS = {
    EvidenceKind.OUTPUT,
    EvidenceKind.BINARY,
    EvidenceKind.VERTEX,
    EvidenceKind.KEY,
    EvidenceKind.OP_FIELD,
}


def describe(findings: tuple[Finding, ...]) -> str:
    return "\n".join(
        f"  {f.severity.value} {f.rule} line {f.location.line if f.location else '-'} "
        f"{f.step.platforms if f.step else ''}: {f.message}"
        for f in findings
    )


def check(scenario: Scenario, findings: tuple[Finding, ...]) -> None:
    """Assert ``findings`` are what ``scenario`` expects; raise AssertionError otherwise."""
    loud = tuple(f for f in findings if f.severity.rank >= Severity.WARNING.rank)
    if scenario.clean:
        assert not loud, f"{scenario.id}: clean control gave\n{describe(loud)}"
        return
    got = Counter((f.rule, f.location.line if f.location else 0, f.severity.value) for f in loud)
    want = Counter((e.rule, e.line, e.severity) for e in scenario.expect)
    assert got == want, (
        f"{scenario.id}: expected {sorted(want.elements())}\ngot\n{describe(findings)}"
    )
    for e in scenario.expect:
        matches = [
            f
            for f in loud
            if f.rule == e.rule and f.location is not None and f.location.line == e.line
        ]
        assert matches, (scenario.id, e)
        f = matches[0]
        if e.platform and e.platform != "either":
            assert f.step is not None and f.step.platform == e.platform, (scenario.id, f.step)
        assert f.location is not None and f.location.text.strip(), f
        if e.anchor:
            assert e.anchor.split()[0] in f.location.text, (e.anchor, f.location.text)
        assert any(ev.kind in CAPTURE_FACTS for ev in f.evidence), f.evidence
        texts = " | ".join(ev.text for ev in f.evidence)
        for fact in MUST_SHOW.get(f.rule, ()):
            assert fact in texts, f"{scenario.id} {f.rule}: evidence lacks {fact!r}: {texts}"
        assert f.explanation and f.fix and f.id.startswith("CT-")
