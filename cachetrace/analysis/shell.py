"""Reading a RUN's shell script well enough for the rules: simple commands, assignments,
redirections, and what the commands do (compile, fetch, verify).

This is not a shell: it splits on ``&& || ; | &`` and newlines, skips the compound-command
keywords (``if then else fi for do done while``…), and takes leading ``NAME=value`` words as
assignments. That is what the rules need to tell ``GOARCH=arm64 go build`` (scoped to the
build) from ``export GOARCH=arm64 && go env`` (scoped to a shell that dies with the step).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

__all__ = [
    "SimpleCommand",
    "compiles",
    "fetches",
    "go_subcommand",
    "has_checksum_check",
    "parse",
    "unpinned_go_fetches",
]

_OPERATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")", "|&"}
_KEYWORDS = {
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "do",
    "done",
    "while",
    "until",
    "for",
    "!",
    "{",
    "}",
    "case",
    "esac",
    "in",
}
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_REDIRECT = {">", ">>", ">|", "&>", "&>>", "2>", "1>", "2>>", "1>>"}


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command: its prefix assignments, words, output redirection targets."""

    index: int
    pipeline: int  # commands joined by ``|`` share a pipeline number
    assignments: tuple[tuple[str, str], ...]
    words: tuple[str, ...]
    redirects: tuple[str, ...]  # files written with > or >>
    text: str  # the words as written, for evidence

    @property
    def name(self) -> str:
        return self.words[0].rsplit("/", 1)[-1] if self.words else ""

    @property
    def exports(self) -> tuple[tuple[str, str], ...]:
        """``export A=b C=d`` (also ``declare -x``/``set -a`` forms are ignored)."""
        if self.name != "export":
            return ()
        out = []
        for w in self.words[1:]:
            m = _ASSIGN.match(w)
            if m:
                out.append((m.group(1), m.group(2)))
        return tuple(out)


def _tokens(script: str) -> list[str]:
    script = script.replace("\\\n", " ")
    lex = shlex.shlex(script, posix=True, punctuation_chars="();<>|&")
    lex.whitespace = " \t\r"
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError:  # unbalanced quotes: fall back to whitespace words
        return script.split()


def parse(script: str) -> tuple[SimpleCommand, ...]:
    """The simple commands of ``script`` in order."""
    out: list[SimpleCommand] = []
    words: list[str] = []
    redirects: list[str] = []
    pipeline = 0
    pending_redirect = False

    def flush(next_pipeline: bool) -> None:
        nonlocal words, redirects, pipeline
        while words and words[0] in _KEYWORDS:
            words.pop(0)
        assigns: list[tuple[str, str]] = []
        while words:
            m = _ASSIGN.match(words[0])
            if not m:
                break
            assigns.append((m.group(1), m.group(2)))
            words.pop(0)
        if words or assigns or redirects:
            out.append(
                SimpleCommand(
                    len(out),
                    pipeline,
                    tuple(assigns),
                    tuple(words),
                    tuple(redirects),
                    " ".join([*(f"{k}={v}" for k, v in assigns), *words]),
                )
            )
        words, redirects = [], []
        if next_pipeline:
            pipeline += 1

    for tok in _tokens(script):
        if pending_redirect:
            redirects.append(tok)
            pending_redirect = False
            continue
        if tok == "\n":
            flush(True)
        elif tok in _REDIRECT or tok in (">", ">>"):
            pending_redirect = True
        elif tok in ("|", "|&"):
            flush(False)
        elif tok in _OPERATORS or (tok and set(tok) <= set(";&|()")):
            flush(True)
        elif tok in ("<", "<<", "<<<", "<&", ">&"):
            continue
        else:
            words.append(tok)
    flush(True)
    return tuple(out)


def go_subcommand(cmd: SimpleCommand) -> str:
    """``build`` for ``go build …``, ``mod download`` for ``go mod download``, else ""."""
    if cmd.name != "go" or len(cmd.words) < 2:
        return ""
    sub = cmd.words[1]
    if sub == "mod" and len(cmd.words) > 2:
        return f"mod {cmd.words[2]}"
    return sub


_COMPILERS = {"gcc", "g++", "cc", "c++", "clang", "clang++", "rustc", "make", "cmake", "ninja"}


def compiles(cmd: SimpleCommand) -> bool:
    """A command whose output is machine code for some target."""
    sub = go_subcommand(cmd)
    if sub in ("build", "install") or (sub == "test" and "-c" in cmd.words):
        return True
    if cmd.name == "cargo" and len(cmd.words) > 1 and cmd.words[1] in ("build", "install"):
        return True
    if cmd.name == "zig" and len(cmd.words) > 1 and cmd.words[1] in ("build", "cc", "c++"):
        return True
    return cmd.name in _COMPILERS


def is_go_build(cmd: SimpleCommand) -> bool:
    return go_subcommand(cmd) in ("build", "install")


_SEMVER = re.compile(r"^v\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.\-+]+)?$")
_PSEUDO_HASH = re.compile(r"^[0-9a-f]{12,40}$")


def _version_pinned(version: str) -> bool:
    return bool(_SEMVER.match(version) or _PSEUDO_HASH.match(version))


def unpinned_go_fetches(cmd: SimpleCommand) -> tuple[str, ...]:
    """Package arguments of ``go get``/``go install``/``go run`` that resolve a moving
    version: ``@latest``, ``@upgrade``, ``@patch``, branch names, or ``go get pkg`` with no
    version at all (which means latest)."""
    sub = go_subcommand(cmd)
    if sub not in ("get", "install", "run"):
        return ()
    out = []
    for arg in cmd.words[2:]:
        if arg.startswith("-") or arg in (".", "./...") or arg.startswith(("./", "../", "/")):
            continue
        path, sep, version = arg.partition("@")
        if sep:
            if not _version_pinned(version) and version != "none":
                out.append(arg)
        elif sub == "get" and "." in path.split("/")[0]:
            out.append(arg)
    return tuple(out)


_FETCHERS = {
    "curl",
    "wget",
    "git",
    "apt-get",
    "apt",
    "apk",
    "pip",
    "pip3",
    "npm",
    "yarn",
    "pnpm",
    "gem",
    "cargo",
    "dnf",
    "yum",
    "microdnf",
}


def fetches(cmd: SimpleCommand) -> bool:
    """A command that reads from the network (package managers, downloads, go fetches)."""
    sub = go_subcommand(cmd)
    if sub in ("get", "install", "mod download", "run", "build", "mod tidy", "test", "vet"):
        return True
    return cmd.name in _FETCHERS


_CHECKSUM = re.compile(
    r"\b(?:sha(?:1|224|256|384|512)sum|b2sum|md5sum|cksum)\b[^|&;]*(?:-c|--check)\b"
    r"|\bgpg\b[^|&;]*--verify|\bcosign\s+verify|\bminisign\b[^|&;]*-V"
    r"|\bsha256sum\b\s+-c|\bopenssl\s+dgst\b"
)


def has_checksum_check(script: str) -> bool:
    """The script verifies what it fetched against a checksum or signature."""
    return bool(_CHECKSUM.search(script))


def download_commands(commands: tuple[SimpleCommand, ...]) -> tuple[SimpleCommand, ...]:
    """``curl``/``wget`` commands that fetch something."""
    return tuple(c for c in commands if c.name in ("curl", "wget"))


def apt_updates(commands: tuple[SimpleCommand, ...]) -> tuple[SimpleCommand, ...]:
    return tuple(
        c
        for c in commands
        if (c.name in ("apt-get", "apt") and "update" in c.words[1:])
        or (c.name == "apk" and ("update" in c.words[1:] or "add" in c.words[1:]))
    )
