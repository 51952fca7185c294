"""Record overhead: the same build with and without ``cachetrace record``, in one run.

Alternates A/B (plain build, then recorded build) ``--rounds`` times per mode and reports the
ratio of median wall times. Modes: ``warm`` (a cached rebuild) and ``cold`` (``--no-cache``).
A third arm, plain build + the local cache export alone, shows how much of the overhead is the
cache export. Runs against the project's engine (``scripts/engine.sh up`` first).

    python -m bench.record_overhead [--example examples/go-multiarch] [--rounds 5] [--out FILE]

Results go to bench/RESULTS-record.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def engine_env() -> dict[str, str]:
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "engine.sh"), "env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        k, _, v = line.removeprefix("export ").partition("=")
        env[k] = v.replace("$PATH", os.environ.get("PATH", ""))
    return env


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", type=Path, default=REPO / "examples" / "go-multiarch")
    ap.add_argument("--dockerfile", default="Dockerfile")
    ap.add_argument("--platforms", default="linux/amd64,linux/arm64")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--modes", default="warm,cold")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS-record.md")
    args = ap.parse_args()
    env = engine_env()
    work = Path(tempfile.mkdtemp(prefix="ct-bench-"))
    env["CACHETRACE_CACHE_DIR"] = str(work / "ctcache")
    export_dir = work / "export-only"
    build = [
        "docker",
        "buildx",
        "build",
        "-f",
        args.dockerfile,
        "--platform",
        args.platforms,
        "-o",
        f"type=local,dest={work / 'out'}",
        ".",
    ]
    rec = [sys.executable, "-m", "cachetrace", "record", "-q", "-o", str(work / "c.json"), "--"]
    shown = args.example.relative_to(REPO) if args.example.is_relative_to(REPO) else args.example
    lines = [
        f"# record overhead, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"example: {shown}"
        f" ({args.platforms}); rounds per mode: {args.rounds}; machine: {os.cpu_count()} cores",
        "",
        "| mode | plain median s | recorded median s | ratio | plain+export median s "
        "| export share of overhead |",
        "|---|---|---|---|---|---|",
    ]
    try:
        timed(build, env, args.example)  # warm the builder once
        timed(rec + build, env, args.example)  # and cachetrace's scan cache / export dir
        for mode in args.modes.split(","):
            extra = ["--no-cache"] if mode == "cold" else []
            cmd = build[:3] + extra + build[3:]
            exp = [*cmd[:3], "--cache-to", f"type=local,dest={export_dir},mode=max", *cmd[3:]]
            a: list[float] = []
            b: list[float] = []
            c: list[float] = []
            for _ in range(args.rounds):
                a.append(timed(cmd, env, args.example))
                b.append(timed(rec + cmd, env, args.example))
                c.append(timed(exp, env, args.example))
            ma, mb, mc = (statistics.median(x) for x in (a, b, c))
            share = (mc - ma) / (mb - ma) if mb > ma else 0.0
            lines.append(
                f"| {mode} | {ma:.3f} | {mb:.3f} | {mb / ma:.2f} | {mc:.3f} | {share:.0%} |"
            )
            print(lines[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
