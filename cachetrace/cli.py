"""The ``cachetrace`` command line: parse arguments, call the library, map errors to exits.

Each subcommand lives in ``cachetrace.commands.<name>`` and exposes ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import their heavy
dependencies (grpc, networkx, textual) inside ``run`` so that ``--help`` stays fast.

Exit codes: 0 success; 1 "found something" (e.g. a finding at or above ``--fail-on``);
2 bad input or a cachetrace error; 3 builder unreachable or protocol error; 130 on Ctrl-C.
``record`` passes the wrapped command's exit code through.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol, cast

from cachetrace import __version__
from cachetrace.errors import CachetraceError

# Registered subcommands, in the order --help lists them.
COMMANDS: tuple[str, ...] = (
    "record",
    "analyze",
    "show",
    "doctor",
    "history",
    "inspect-binary",
    "inspect-layer",
    "graph",
    "diff",
)


class CommandModule(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors stay one line with exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgError(f"{self.prog}: {message}")


class _ArgError(Exception):
    pass


def _load(name: str) -> CommandModule:
    module: ModuleType = importlib.import_module(f"cachetrace.commands.{name.replace('-', '_')}")
    return cast(CommandModule, module)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cachetrace",
        description="BuildKit cache-key forensics: record a build, find polluted steps "
        "and needless cache misses, with evidence and fixes.",
    )
    parser.add_argument("--version", action="version", version=f"cachetrace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except _ArgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 0
    try:
        return int(run(args))
    except CachetraceError as exc:
        print(f"cachetrace: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cachetrace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"
