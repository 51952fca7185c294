"""Record every scenario run behind ``cachetrace record`` into one capture file per run.

    python -m tests.analysis.scenario_captures --out captures/scenarios [ID ...]

Writes ``<out>/<scenario>/<run>.json`` (the run names of ``scenario.json``, ``default`` when
it has none). One module proxy per scenario serves every run (its URL is in the step keys, so
a cached run must see the same URL). Shared by ``scripts/record_scenario_captures.sh`` and the
engine tests, so the captures the unit tests read come from exactly what the engine tests do.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.scenarios.goproxy import ProxyServer
from tests.scenarios.spec import ROOT, Scenario, all_scenarios, load

REPO = ROOT.parent.parent


@dataclass(frozen=True)
class RecordedRun:
    scenario: str
    run: str
    capture: Path
    returncode: int
    log: str


def record_scenario(
    scenario: Scenario,
    out_root: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> list[RecordedRun]:
    """Build every run of ``scenario`` under ``cachetrace record``; one capture per run."""
    out_dir = out_root / scenario.id
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[RecordedRun] = []
    with tempfile.TemporaryDirectory(prefix=f"ct-rec-{scenario.id}-") as tmp:
        proxy_root = Path(tmp) / "goproxy"
        proxy_root.mkdir()
        server = ProxyServer(proxy_root).start() if scenario.needs_proxy else None
        try:
            for run in scenario.runs:
                scenario.write_proxy(proxy_root, run)
                capture = out_dir / f"{run.name}.json"
                build = scenario.argv(
                    run,
                    out_dir=Path(tmp) / "out" / run.name,
                    secret_dir=Path(tmp) / "secrets",
                    proxy_url=server.url if server else "",
                )
                argv = [
                    sys.executable,
                    "-m",
                    "cachetrace",
                    "record",
                    "-q",
                    "-o",
                    str(capture),
                    "--",
                    *build,
                ]
                proc = subprocess.run(
                    argv,
                    env=dict(env) if env is not None else None,
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                results.append(
                    RecordedRun(
                        scenario.id, run.name, capture, proc.returncode, proc.stdout + proc.stderr
                    )
                )
        finally:
            if server is not None:
                server.stop()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.analysis.scenario_captures")
    parser.add_argument("ids", nargs="*", help="scenario ids (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "captures" / "scenarios")
    args = parser.parse_args(argv)
    scenarios = [load(ROOT / i) for i in args.ids] or all_scenarios()
    failed = 0
    for s in scenarios:
        for r in record_scenario(s, args.out, env=os.environ):
            print(f"{r.scenario:30} {r.run:16} rc={r.returncode} -> {r.capture}")
            if r.returncode != 0:
                failed += 1
                print(r.log[-3000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
