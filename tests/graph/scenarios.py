"""Small real builds whose exec cache keys cachetrace recomputes.

Each scenario is a directory under ``tests/graph/data/scenarios/`` with a Dockerfile, its
context and a ``flags`` file (one ``docker buildx build`` option and its value per line;
``@WORK@`` stands for a scratch directory). :func:`run_scenario` builds it on the real engine
with ``--cache-to type=local,mode=max`` and returns the provenance of every platform and the
cache export's index, manifest and config, byte for byte.

``python -m tests.graph.scenarios OUTDIR [SCENARIO...]`` (what
``scripts/record_key_fixtures.sh`` runs) writes them as fixtures:
``OUTDIR/<scenario>/provenance-<os>-<arch>.json``, ``index.json``, ``manifest.json``,
``cacheconfig.json``, and ``OUTDIR/versions.txt``.

The provenance comes from the build's history record (``docker buildx history``); buildx
releases without that command (0.13) get it from the ``provenance.json`` that
``--provenance=mode=max`` writes into the local output (the same predicate).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.engine import Engine, start_engine

HERE = Path(__file__).resolve().parent
SCENARIOS_DIR = HERE / "data" / "scenarios"
KEYS_DIR = HERE / "data" / "keys"
SCENARIOS = ("features", "secretenv", "multi", "gobuild", "variant")
# Scenarios the Dockerfile frontend of BuildKit v0.13 (Docker 26.1) can build.
OLD_ENGINE_SCENARIOS = ("features", "multi", "gobuild", "variant")
# BuildKit vendored by each Docker Engine we record on (moby's vendor.mod at that tag).
VENDORED_BUILDKIT = {"28.5.2": "v0.25.2", "26.1.5": "v0.13.2"}
SECRET_VALUE = "fixture-token-value"
CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"


@dataclass(frozen=True)
class Recorded:
    name: str
    provenance: dict[str, bytes]  # "linux/amd64" -> the bare SLSA predicate
    index: bytes
    manifest: bytes
    config: bytes
    cache_dir: Path


def scenario_flags(name: str, work: Path) -> list[str]:
    text = (SCENARIOS_DIR / name / "flags").read_text(encoding="utf-8")
    flags: list[str] = []
    for line in text.splitlines():
        if line.strip():
            flags.extend(shlex.split(line.replace("@WORK@", str(work))))
    return flags


def scenario_platforms(flags: list[str]) -> list[str]:
    if "--platform" in flags:
        return flags[flags.index("--platform") + 1].split(",")
    return ["linux/amd64"]


def _blob(directory: Path, digest: str) -> bytes:
    algorithm, _, encoded = digest.partition(":")
    return (directory / "blobs" / algorithm / encoded).read_bytes()


def run_scenario(engine: Engine, name: str, work: Path) -> Recorded:
    """Build scenario ``name`` with a fresh cache export under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "tok").write_text(SECRET_VALUE, encoding="utf-8")
    cache = work / "cache"
    meta = work / "meta.json"
    flags = scenario_flags(name, work)
    engine.docker(
        "buildx",
        "build",
        "--progress=quiet",
        "--metadata-file",
        str(meta),
        "--cache-to",
        f"type=local,dest={cache},mode=max",
        "--provenance=mode=max",
        *flags,
        str(SCENARIOS_DIR / name),
    )
    ref = json.loads(meta.read_text(encoding="utf-8"))["buildx.build.ref"].rsplit("/", 1)[-1]
    platforms = scenario_platforms(flags)
    provenance: dict[str, bytes] = {}
    for platform in platforms:
        extra = ["--platform", platform] if len(platforms) > 1 else []
        out = engine.docker(
            "buildx", "history", "inspect", "attachment", ref, "--type", "provenance", *extra,
            check=False,
        )  # fmt: skip
        if out.returncode == 0:
            provenance[platform] = out.stdout
            continue
        # buildx without `history`: the local output's provenance.json (an in-toto statement).
        sub = platform.replace("/", "_") if len(platforms) > 1 else ""
        statement = json.loads((work / "out" / sub / "provenance.json").read_bytes())
        provenance[platform] = json.dumps(statement["predicate"], indent=2).encode() + b"\n"
    index = (cache / "index.json").read_bytes()
    manifest_digest = json.loads(index)["manifests"][0]["digest"]
    manifest = _blob(cache, manifest_digest)
    top = json.loads(manifest)
    # An image manifest names the config; older exports list it in an index instead.
    candidates = [top["config"]] if "config" in top else top.get("manifests", [])
    config_desc = next(d for d in candidates if d["mediaType"].startswith(CACHE_CONFIG))
    config = _blob(cache, config_desc["digest"])
    return Recorded(name, provenance, index, manifest, config, cache)


def write_fixture(recorded: Recorded, out: Path) -> None:
    target = out / recorded.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for platform, data in recorded.provenance.items():
        (target / f"provenance-{platform.replace('/', '-')}.json").write_bytes(data)
    (target / "index.json").write_bytes(recorded.index)
    (target / "manifest.json").write_bytes(recorded.manifest)
    (target / "cacheconfig.json").write_bytes(recorded.config)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else KEYS_DIR
    names = argv[1:] or list(SCENARIOS)
    engine = start_engine()
    work_root = Path(engine.run(["mktemp", "-d"]).stdout.decode().strip())
    try:
        for name in names:
            print(f"record: {name}", file=sys.stderr)
            write_fixture(run_scenario(engine, name, work_root / name), out)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    server = engine.docker("version", "--format", "{{.Server.Version}}").stdout.decode().strip()
    buildx = engine.docker("buildx", "version").stdout.decode().strip()
    release = server.split("+", 1)[0]
    buildkit = VENDORED_BUILDKIT.get(release, "unknown")
    (out / "versions.txt").write_text(
        f"docker: {server}\nbuildx: {buildx}\nbuildkit: {buildkit} (moby v{release} vendor.mod)\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
