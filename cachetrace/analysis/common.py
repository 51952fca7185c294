"""Helpers shared by the rules: Go and package-cache knowledge, evidence wording, findings."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from cachetrace.capture_io.redact import redact_text
from cachetrace.model.llb import ExecOp, Mount, MountType, NetworkMode
from cachetrace.model.outputs import BinaryInfo, FileEntry

from .context import BuildContext, PlatformView, StepGroup, StepView
from .finding import Evidence, EvidenceKind, Finding, Severity, SourceLocation, StepRef, finding_id
from .shell import (
    SimpleCommand,
    apt_updates,
    download_commands,
    go_subcommand,
    has_checksum_check,
    parse,
    unpinned_go_fetches,
)

GO_VARS = (
    "GOOS",
    "GOARCH",
    "GOARM",
    "GOAMD64",
    "CGO_ENABLED",
    "GOFLAGS",
    "GOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GOSUMDB",
    "GOINSECURE",
    "GOCACHE",
    "GOMODCACHE",
)

ARCH_NAMES = {
    "amd64": "x86-64",
    "arm64": "aarch64",
    "386": "i386",
    "arm": "ARM",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "RISC-V 64",
}


def arch_name(arch: str) -> str:
    return ARCH_NAMES.get(arch, arch)


def describe_binary(b: BinaryInfo) -> str:
    """``ELF x86-64 (EM_X86_64), static, Go build info GOOS=linux GOARCH=amd64 GOAMD64=v1``."""
    parts = [f"{b.format.value.upper()} {arch_name(b.arch)} ({b.machine})"]
    if b.static is True:
        parts.append("statically linked")
    elif b.interpreter:
        parts.append(f"dynamically linked, PT_INTERP {b.interpreter}")
    if b.go is not None:
        settings = " ".join(
            f"{k}={b.go.settings[k]}"
            for k in ("GOOS", "GOARCH", "CGO_ENABLED")
            if k in b.go.settings
        )
        level = b.go.arch_level
        parts.append(f"Go build info {settings}{' ' + level if level else ''}".rstrip())
    else:
        parts.append("no Go build info")
    return ", ".join(parts)


def module_versions(b: BinaryInfo) -> str:
    """``mod example.com/greet v1.0.0; dep example.com/x v0.2.0 h1:…`` from Go build info."""
    if b.go is None:
        return ""
    parts = []
    if b.go.main is not None and b.go.main.version and b.go.main.version != "(devel)":
        parts.append(f"mod {b.go.main.path} {b.go.main.version}")
    for dep in b.go.deps:
        parts.append(f"dep {dep.path} {dep.version} {dep.sum}".rstrip())
    return "; ".join(parts)


def home_of(view: StepView) -> str:
    return view.env().get("HOME", "/root") or "/"


def go_cache_kind(view: StepView, dest: str) -> str:
    """``GOMODCACHE``/``GOCACHE`` when ``dest`` is where this step's Go keeps that cache."""
    env = view.env()
    home = home_of(view)
    gopath = env.get("GOPATH", "").split(":")[0] or posixpath.join(home, "go")
    modcache = env.get("GOMODCACHE") or posixpath.join(gopath, "pkg", "mod")
    xdg = env.get("XDG_CACHE_HOME") or posixpath.join(home, ".cache")
    gocache = env.get("GOCACHE") or posixpath.join(xdg, "go-build")
    dest = posixpath.normpath(dest)
    if dest == posixpath.normpath(modcache):
        return "GOMODCACHE"
    if dest == posixpath.normpath(gocache):
        return "GOCACHE"
    if dest == posixpath.normpath(gopath) or dest == posixpath.join(gopath, "pkg"):
        return "GOMODCACHE"
    if dest == posixpath.normpath(xdg):
        return "GOCACHE"
    return ""


def go_cache_description(view: StepView, dest: str) -> str:
    kind = go_cache_kind(view, dest)
    if not kind:
        return ""
    if kind in view.env():
        return f"{kind} (set in the step's env)"
    return f"the default {kind} for HOME={home_of(view)}"


_PACKAGE_CACHES = (
    "/var/cache/apt",
    "/var/lib/apt",
    "/var/cache/apk",
    "/etc/apk/cache",
    "/root/.npm",
    "/root/.cache/pip",
    "/root/.cache/yarn",
    "/usr/local/share/.cache/yarn",
    "/root/.cargo/registry",
    "/root/.cargo/git",
    "/usr/local/cargo/registry",
    "/root/.m2",
    "/root/.gradle",
    "/root/.cache/pnpm",
    "/root/.local/share/pnpm",
    "/var/cache/dnf",
    "/var/cache/yum",
)


def package_cache_kind(view: StepView, dest: str) -> str:
    """A name for a package/module cache directory, "" for anything else."""
    kind = go_cache_kind(view, dest)
    if kind:
        return kind
    dest = posixpath.normpath(dest)
    for p in _PACKAGE_CACHES:
        if dest == p or dest.startswith(p + "/"):
            return p
    return ""


def cache_like(view: StepView, dest: str) -> bool:
    """A directory used as a cache (a package cache, or ``.cache``/``cache`` by name)."""
    if package_cache_kind(view, dest):
        return True
    parts = posixpath.normpath(dest).split("/")
    return any(p in (".cache", "go-build") for p in parts)


def describe_mount(m: Mount) -> str:
    bits = [f"type={m.type.value}", f"target={m.dest}"]
    if m.cache is not None:
        bits.append(f"id={m.cache.id.lstrip('/')}")
        bits.append(f"sharing={m.cache.sharing.value}")
    if m.secret is not None:
        bits.append(f"id={m.secret.id}")
    if m.selector:
        bits.append(f"source={m.selector.lstrip('/')}")
    if m.type is MountType.BIND:
        bits.append("readonly" if m.readonly else "rw")
    return ",".join(bits)


def network_of(exec_op: ExecOp) -> str:
    return exec_op.network.value


def has_network(exec_op: ExecOp) -> bool:
    return exec_op.network is not NetworkMode.NONE


def shown(text: str, limit: int = 240) -> str:
    """Redacted, one line, bounded: for putting commands and values into evidence."""
    one = " ".join(redact_text(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def written_files(pv: PlatformView, step_id: str, limit: int = 5) -> list[FileEntry]:
    from cachetrace.model.outputs import FileType

    files = [e for e in pv.entries_of(step_id) if e.type is FileType.FILE]
    return files[:limit]


def go_sum_state(ctx: BuildContext, view: StepView) -> bool | None:
    """Whether the step's root filesystem has ``go.sum`` next to ``go.mod`` in its cwd (or
    any bind mount of the context at the cwd has one): True/False, None when unknown."""
    exec_op = view.exec
    if exec_op is None:
        return None
    cwd = exec_op.meta.cwd or "/"
    pv = ctx.platforms[view.platform]
    for m in exec_op.mounts:
        if m.type is not MountType.BIND:
            continue
        if m.dest != "/" and not (cwd == m.dest or cwd.startswith(m.dest.rstrip("/") + "/")):
            continue
        src = view.input_step(m.input)
        if src is None:
            continue
        fs = pv.chain_filesystem(src, 0)
        if fs is None:
            if m.dest != "/":
                return None
            continue
        rel = posixpath.relpath(cwd, m.dest) if m.dest != "/" else cwd.lstrip("/")
        base = posixpath.join("/", (m.selector or "/").lstrip("/"), rel)
        if fs.exists(posixpath.join(base, "go.sum")):
            return True
        if m.dest == "/" and fs.exists(posixpath.join(base, "go.mod")):
            return False
    return None


def module_downloads(ctx: BuildContext, view: StepView) -> list[str]:
    """``path@version`` of every module zip the step's own layers added to GOMODCACHE."""
    env = view.env()
    gopath = env.get("GOPATH", "").split(":")[0] or posixpath.join(home_of(view), "go")
    root = (env.get("GOMODCACHE") or posixpath.join(gopath, "pkg", "mod")) + "/cache/download/"
    out = []
    for e in ctx.platforms[view.platform].entries_of(view.step.id):
        if e.path.startswith(root) and e.path.endswith(".zip") and "/@v/" in e.path:
            module, _, version = e.path[len(root) :].partition("/@v/")
            out.append(f"{module}@{version.removesuffix('.zip')}")
    return sorted(set(out))


def goflags(view: StepView, cmd: SimpleCommand | None = None) -> str:
    flags = view.env().get("GOFLAGS", "")
    if cmd is not None:
        for k, v in cmd.assignments:
            if k == "GOFLAGS":
                flags = v
    return flags


def unpinned_reasons(ctx: BuildContext, view: StepView) -> list[Evidence]:
    """Why this step's output follows the network: the commands, each as evidence.

    Empty when the step has no network or every fetch is pinned (a go.sum in its inputs, a
    checksum check of downloads)."""
    exec_op = view.exec
    if exec_op is None or not has_network(exec_op):
        return []
    script = view.command()
    commands = parse(script)
    out: list[Evidence] = []
    sum_state: bool | str | None = "unset"
    for cmd in commands:
        for arg in unpinned_go_fetches(cmd):
            out.append(
                Evidence(
                    EvidenceKind.COMMAND,
                    f"`{shown(cmd.text)}` resolves {arg} to whatever version the proxy "
                    "serves at build time",
                )
            )
        sub = go_subcommand(cmd)
        if sub in ("mod download", "build", "install", "run", "test", "mod tidy"):
            mod_mod = "-mod=mod" in goflags(view, cmd).split() or "-mod=mod" in cmd.words
            if sum_state == "unset":
                sum_state = go_sum_state(ctx, view)
            no_sum = sum_state is False
            if not (no_sum and (sub == "mod download" or mod_mod)) and sub != "mod tidy":
                continue
            fetched = module_downloads(ctx, view)
            mounted = [
                m.dest
                for m in exec_op.mounts_of(MountType.CACHE)
                if go_cache_kind(view, m.dest) == "GOMODCACHE"
            ]
            if not fetched and not mounted:
                continue  # nothing was downloaded (a go.mod without requirements)
            why = []
            if mod_mod:
                why.append("-mod=mod")
            if no_sum:
                why.append(f"no go.sum in {exec_op.meta.cwd or '/'} among the step's inputs")
            what = (
                "it downloaded " + ", ".join(fetched[:5])
                if fetched
                else f"what it downloaded is in the cache mount {mounted[0]}, in no layer"
            )
            out.append(
                Evidence(
                    EvidenceKind.COMMAND,
                    f"`{shown(cmd.text)}` with {' and '.join(why) or 'module updates'}: "
                    f"module content is not pinned; {what}",
                )
            )
    if not has_checksum_check(script):
        for cmd in download_commands(commands):
            out.append(
                Evidence(
                    EvidenceKind.COMMAND,
                    f"`{shown(cmd.text)}` downloads with no checksum or signature check in "
                    "the step",
                )
            )
    for cmd in apt_updates(commands):
        out.append(
            Evidence(
                EvidenceKind.COMMAND,
                f"`{shown(cmd.text)}` reads the package index as it is at build time",
            )
        )
    return out


def fetch_env_evidence(view: StepView) -> list[Evidence]:
    """Environment that makes Go fetches less verifiable or less stable, as evidence."""
    env = view.env()
    out: list[Evidence] = []
    for name in ("GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOINSECURE", "GOFLAGS"):
        if name in env:
            out.append(Evidence(EvidenceKind.ENV, f"env {name}={shown(env[name], 120)}"))
    exec_op = view.exec
    if exec_op is not None:
        out.append(Evidence(EvidenceKind.OP_FIELD, f"network={network_of(exec_op)}"))
        proxies = exec_op.meta.proxy_env.as_dict() if exec_op.meta.proxy_env else {}
        if proxies and "GOPROXY" not in env:
            out.append(
                Evidence(
                    EvidenceKind.OP_FIELD,
                    "the proxy reaches the step only through meta.proxy_env ("
                    + ", ".join(sorted(proxies))
                    + "), outside the key",
                )
            )
    return out


def make_finding(
    rule: str,
    severity: Severity,
    message: str,
    *,
    group: StepGroup | None = None,
    view: StepView | None = None,
    location: SourceLocation | None = None,
    step: StepRef | None = None,
    evidence: Iterable[Evidence],
    explanation: str,
    fix: str,
    key: str,
    related: Iterable[StepRef] = (),
) -> Finding:
    if group is not None:
        location = location or group.location
        step = step or group.ref()
    elif view is not None:
        location = location or view.location
        step = step or view.ref()
    return Finding(
        id=finding_id(rule, location, key),
        rule=rule,
        severity=severity,
        message=message,
        explanation=explanation,
        fix=fix,
        step=step,
        location=location,
        evidence=tuple(evidence),
        related=tuple(related),
    )


def step_where(view: StepView | None) -> str:
    """``RUN go build -o /out/hello . (line 6)`` for evidence text."""
    if view is None:
        return "an unknown step"
    loc = view.location
    text = loc.text.strip() if loc is not None else view.name
    if view.exec is not None and (not text or text.endswith("\\")):
        text = "RUN " + view.command()
    line = f" (line {loc.line})" if loc is not None else ""
    return f"`{shown(text, 100)}`{line}"
