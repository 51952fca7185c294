"""Build a scenario's runs for real, in order, with the module proxy state each run wants.

    python -m tests.scenarios.runner [--out DIR] [--prefix 'cachetrace record --'] [ID ...]

``--prefix`` puts a wrapper in front of every ``docker buildx build`` (the recorder, later).
The docker CLI and daemon come from the environment (``eval "$(scripts/engine.sh env)"``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.scenarios.goproxy import ProxyServer
from tests.scenarios.spec import Scenario, all_scenarios, load


@dataclass(frozen=True)
class RunResult:
    scenario: str
    run: str
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    out_dir: Path
    log: str


def build_scenario(
    scenario: Scenario,
    out_root: Path,
    *,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    timeout: float = 600,
) -> list[RunResult]:
    """Run every build of ``scenario``; outputs land in ``out_root/<run name>/``."""
    out_root.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix=f"ct-{scenario.id}-") as tmp:
        # The proxy lives under a fresh path prefix per call: the URL (a build arg, in the
        # key) is then new every time, so a run can never be a cache hit of an earlier
        # session's run made against another proxy state (a reused port did that once).
        nonce = uuid.uuid4().hex[:12]
        proxy_root = Path(tmp) / "goproxy" / nonce
        proxy_root.mkdir(parents=True)
        server = ProxyServer(proxy_root.parent).start() if scenario.needs_proxy else None
        try:
            for run in scenario.runs:
                scenario.write_proxy(proxy_root, run)
                out_dir = out_root / run.name
                argv = [
                    *prefix,
                    *scenario.argv(
                        run,
                        out_dir=out_dir,
                        secret_dir=Path(tmp) / "secrets",
                        proxy_url=f"{server.url}/{nonce}" if server else "",
                        metadata_file=out_root / f"{run.name}.metadata.json",
                    ),
                ]
                start = time.monotonic()
                proc = subprocess.run(
                    argv,
                    env=dict(env) if env is not None else None,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                results.append(
                    RunResult(
                        scenario.id,
                        run.name,
                        tuple(argv),
                        proc.returncode,
                        time.monotonic() - start,
                        out_dir,
                        proc.stdout + proc.stderr,
                    )
                )
        finally:
            if server is not None:
                server.stop()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.scenarios.runner")
    parser.add_argument("ids", nargs="*", help="scenario ids (default: all)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--prefix", default="", help="wrapper command, e.g. 'cachetrace record --'")
    args = parser.parse_args(argv)
    scenarios = [load(Path(__file__).parent / i) for i in args.ids] or all_scenarios()
    out = args.out or Path(tempfile.mkdtemp(prefix="ct-scenarios-"))
    failed = 0
    for s in scenarios:
        for r in build_scenario(s, out / s.id, env=os.environ, prefix=shlex.split(args.prefix)):
            print(f"{r.scenario:30} {r.run:16} rc={r.returncode} {r.seconds:6.1f}s -> {r.out_dir}")
            if r.returncode != 0:
                failed += 1
                print(r.log[-3000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
