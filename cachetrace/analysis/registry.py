"""The rule registry and ``run_rules``.

Each rule is a module of ``cachetrace.analysis.rules`` exposing ``RULE`` (a :class:`Rule`):
its id, default severity, one-line title and ``check(ctx) -> Iterable[Finding]``, a pure
function of the joined build (:class:`~cachetrace.analysis.context.BuildContext`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import replace

from cachetrace.errors import UsageError
from cachetrace.graph.build import BuildGraph, build_graph
from cachetrace.model.capture import Build, Capture

from .context import BuildContext
from .finding import Finding
from .rule import Rule

__all__ = ["RULES", "Rule", "rule_ids", "run_rules", "select_rules"]

_MODULES = (
    "wrong_arch_output",
    "platform_collapse",
    "env_export_scope",
    "proxy_args_outside_key",
    "network_fetch_unpinned",
    "cache_mount_outside_key",
    "host_context_mount",
    "secret_outside_key",
    "missing_interpreter",
)


def _load() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for name in _MODULES:
        module = importlib.import_module(f"cachetrace.analysis.rules.{name}")
        rule: Rule = module.RULE
        out[rule.id] = rule
    return out


RULES: dict[str, Rule] = _load()


def rule_ids() -> tuple[str, ...]:
    return tuple(RULES)


def select_rules(ids: Sequence[str] | None) -> tuple[Rule, ...]:
    """The rules named (comma lists allowed), in registry order; all when ``ids`` is empty."""
    if not ids:
        return tuple(RULES.values())
    wanted = {i.strip() for item in ids for i in item.split(",") if i.strip()}
    unknown = sorted(wanted - set(RULES))
    if unknown:
        raise UsageError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    return tuple(r for r in RULES.values() if r.id in wanted)


def _sort_key(f: Finding) -> tuple[int, str, int, str, str]:
    loc = f.location
    return (-f.severity.rank, loc.file if loc else "", loc.line if loc else 0, f.rule, f.id)


def run_rules(
    target: Capture | Build | BuildGraph | BuildContext,
    rules: Sequence[str] | Sequence[Rule] | None = None,
    *,
    build: int | None = None,
) -> tuple[Finding, ...]:
    """Run ``rules`` (ids or Rule objects; default all) over a capture, a joined graph, a
    bare build or a context.

    For a capture, every build is joined into its graph (``build_graph``) and analysed,
    unless ``build`` (an index) picks one. Findings
    come sorted: most severe first, then by Dockerfile file, line and rule.
    """
    selected: tuple[Rule, ...]
    if rules and all(isinstance(r, Rule) for r in rules):
        selected = tuple(r for r in rules if isinstance(r, Rule))
    else:
        selected = select_rules([r for r in rules or () if isinstance(r, str)])
    if isinstance(target, Capture):
        builds = target.builds
        if build is not None:
            if not 0 <= build < len(builds):
                raise UsageError(
                    f"build {build} out of range: the capture has {len(builds)} build(s)"
                )
            builds = (builds[build],)
        first = build or 0
        indexes = [first + i for i in range(len(builds))]
        if build is None:  # every build: skip the ones with nothing to analyse (failed ones)
            indexes = [i for i in indexes if target.builds[i].provenance] or indexes[:1]
        contexts = [(i, BuildContext(build_graph(target, i))) for i in indexes]
        several = len(target.builds) > 1
    elif isinstance(target, (Build, BuildGraph)):
        contexts, several = [(0, BuildContext(target))], False
    else:
        contexts, several = [(0, target)], False
    findings: dict[str, Finding] = {}
    for index, ctx in contexts:
        for rule in selected:
            for found in rule.check(ctx):
                # a bake: the same Dockerfile line may be in several targets
                f = replace(found, id=f"{found.id}-b{index}") if several else found
                findings.setdefault(f.id, f)
    return tuple(sorted(findings.values(), key=_sort_key))
