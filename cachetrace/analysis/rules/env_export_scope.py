"""``env-export-scope``: Go settings made inside one RUN that a later Go build never sees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..common import GO_VARS, make_finding, shown, step_where
from ..context import BuildContext, StepView
from ..finding import Evidence, EvidenceKind, Finding, Severity
from ..rule import Rule
from ..shell import SimpleCommand, go_subcommand, is_go_build, parse

ID = "env-export-scope"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    value: str
    how: str  # "export" or "prefix"
    text: str  # the command that set it


# Variables that steer what Go fetches; the rest steer what it builds.
_FETCH_VARS = {"GOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOMODCACHE"}


def consumes(name: str, cmd: SimpleCommand) -> bool:
    """Whether ``cmd`` is a Go command that ``name`` steers (so setting it there is right)."""
    if name in _FETCH_VARS:
        return go_subcommand(cmd) in _GO_FETCHING
    return is_go_build(cmd)  # vet/test in scope do not count: the shipped build lacks it


_GO_FETCHING = ("get", "install", "build", "run", "test", "mod download", "mod tidy", "list")


def unscoped_settings(view: StepView) -> list[Setting]:
    """Go variables set in the script whose scope holds no Go build."""
    commands = parse(view.command())
    out: list[Setting] = []
    for i, cmd in enumerate(commands):
        for name, value in cmd.exports:
            if name in GO_VARS and not any(consumes(name, c) for c in commands[i + 1 :]):
                out.append(Setting(name, value, "export", cmd.text))
        if cmd.words and cmd.name != "export":
            for name, value in cmd.assignments:
                if name in GO_VARS and not consumes(name, cmd):
                    out.append(Setting(name, value, "prefix", cmd.text))
        elif not cmd.words:  # NAME=value alone: a shell variable, not even exported
            for name, value in cmd.assignments:
                if name in GO_VARS and not any(consumes(name, c) for c in commands[i + 1 :]):
                    out.append(Setting(name, value, "shell variable", cmd.text))
    return out


def _sets_itself(view: StepView, name: str) -> bool:
    for cmd in parse(view.command()):
        if any(k == name for k, _ in (*cmd.assignments, *cmd.exports)):
            return True
    return False


def _output_contradiction(ctx: BuildContext, later: StepView, s: Setting) -> str:
    pv = ctx.platforms[later.platform]
    for b in pv.binaries_of(later.step.id):
        if b.go is None:
            continue
        settings = b.go.settings
        if s.name in ("GOOS", "GOARCH", "CGO_ENABLED", "GOARM", "GOAMD64"):
            got = settings.get(s.name)
            if got is not None and got != s.value and not s.value.startswith("$"):
                return f"the binary {b.path} it built says {s.name}={got}"
        if s.name == "GOFLAGS":
            missing = []
            for flag in s.value.split():
                key, _, val = flag.partition("=")
                if key in ("-trimpath", "-race", "-msan", "-asan") and settings.get(key) != "true":
                    missing.append(f"{key}=true")
                elif (
                    key in ("-tags", "-buildmode", "-ldflags") and val and settings.get(key) != val
                ):
                    missing.append(f"{key}={val}")
            if missing:
                return f"the binary {b.path} it built has no {', '.join(missing)} in its build info"
    return ""


def check(ctx: BuildContext) -> Iterator[Finding]:
    for group in ctx.groups():
        first = group.first
        settings = unscoped_settings(first)
        if not settings:
            continue
        later_builds = [
            d
            for d in ctx.descendants(first)
            if d.exec is not None and any(is_go_build(c) for c in parse(d.command()))
        ]
        for s in settings:
            misses = []
            for later in later_builds:
                env = later.env()
                if env.get(s.name) == s.value or _sets_itself(later, s.name):
                    continue
                misses.append(later)
            if not misses:
                continue
            later = misses[0]
            env = later.env()
            evidence = [
                Evidence(
                    EvidenceKind.COMMAND,
                    f"{s.name}={shown(s.value, 80)} set by "
                    + ("`export`" if s.how == "export" else f"a {s.how}")
                    + f" in `{shown(s.text, 120)}`: in the step's args only, not in its env",
                ),
                Evidence(
                    EvidenceKind.ENV,
                    f"the later Go build {step_where(later)} runs with "
                    + (
                        f"{s.name}={shown(env[s.name], 80)} (from ENV/ARG)"
                        if s.name in env
                        else f"no {s.name} in its env or args"
                    ),
                ),
            ]
            contradiction = _output_contradiction(ctx, later, s)
            if contradiction:
                evidence.append(Evidence(EvidenceKind.BINARY, contradiction))
            kv = later.key_view()
            if kv is not None:
                evidence.append(
                    Evidence(
                        EvidenceKind.KEY,
                        f"the later build's key {kv.cache_digest} has no {s.name}={s.value}",
                    )
                )
            yield make_finding(
                ID,
                Severity.WARNING,
                f"{s.name} is set inside this RUN only; the Go build at line "
                f"{later.location.line if later.location else '?'} does not see it",
                group=group,
                evidence=evidence,
                explanation=(
                    "A variable exported or prefixed inside a RUN lives as long as that RUN's "
                    "shell. It enters this step's cache key only as command text and is "
                    "invisible to later steps: their keys do not change when it changes, and "
                    "the later Go build runs with the image's settings. The Dockerfile reads "
                    "as if the build used it; the binary says otherwise."
                ),
                fix=(
                    f"Set it where the build runs: `ENV {s.name}=…` (or `ARG` for a build "
                    f"argument) before the build, or on the build command itself "
                    f"(`RUN {s.name}=… go build …`)."
                ),
                key=f"{s.name}={s.value}",
            )


RULE = Rule(
    id=ID,
    title="Go setting scoped to one RUN, missing from a later build",
    severity=Severity.WARNING,
    summary=(
        "A Go variable (GOOS, GOARCH, CGO_ENABLED, GOFLAGS, GOPROXY…) set with `export` or "
        "`VAR=value cmd` inside a RUN whose scope holds no Go build, while a later Go build "
        "runs without it."
    ),
    check=check,
)
