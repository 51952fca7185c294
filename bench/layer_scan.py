"""Layer scan throughput against the floor ``gzip -dc BLOB | sha256sum``, same run, same blobs.

Run: ``.venv/bin/python -m bench.layer_scan`` (needs the engine: ``make engine``). It exports
real layers (``docker save`` of golang:local and busybox:local, plus a small example build
written as an OCI layout), then for every blob measures, each as the median of ``--repeat``
runs in a fresh process with a warm page cache, floor and cachetrace runs alternating:

- floor: ``gzip -dc BLOB | sha256sum`` (decompress and hash one stream);
- cachetrace: ``scan_layer`` (diffID, every file's sha256, entries, executables, content
  digest) with ISA-L inflate and with stdlib zlib (``CACHETRACE_INFLATE=zlib``);
- several layers: the sum of the floors against ``scan_layer_files`` with 1 and 2 workers;
- memory: the peak RSS (VmHWM) of the scanning process and the tracemalloc peak of one scan.

Results go to bench/RESULTS-layer-scan.md (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "out" / "layer-scan"

EXAMPLE = """
FROM golang:local AS go
FROM scratch AS example
COPY --from=go /usr/share/go-1.24/src/net/ /src/net/
COPY --from=go /usr/lib/go-1.24/pkg/tool/linux_amd64/ /tool/
FROM busybox:local
COPY --from=example /src /src
COPY --from=example /tool /tool
RUN mkdir -p /app && echo hello > /app/hello && rm -rf /src/net/http/testdata
"""


def _engine_env() -> dict[str, str]:
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "engine.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.replace("$PATH", os.environ.get("PATH", "")).strip('"')
    return env


def _oci_layers(root: Path) -> list[tuple[Path, str]]:
    def blob(digest: str) -> Path:
        algo, hexd = digest.split(":", 1)
        return root / "blobs" / algo / hexd

    doc = json.loads((root / "index.json").read_text())
    while "manifests" in doc:
        doc = json.loads(blob(doc["manifests"][0]["digest"]).read_text())
    return [(blob(layer["digest"]), layer["mediaType"]) for layer in doc["layers"]]


def export_layers(env: dict[str, str]) -> list[tuple[str, Path, str]]:
    """(label, blob path, media type) for every layer used by the benchmark."""
    WORK.mkdir(parents=True, exist_ok=True)
    found: list[tuple[str, Path, str]] = []
    for image in ("golang:local", "busybox:local"):
        tag = image.split(":")[0]
        dest = WORK / tag
        if not (dest / "index.json").exists():
            archive = WORK / f"{tag}.tar"
            subprocess.run(["docker", "save", image, "-o", str(archive)], env=env, check=True)
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
            archive.unlink()
        for i, (path, mt) in enumerate(_oci_layers(dest)):
            found.append((f"{image} layer {i}", path, mt))
    ctx = WORK / "example-ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(EXAMPLE)
    dest = WORK / "example"
    if not (dest / "index.json").exists():
        output = f"type=oci,dest={dest},tar=false"
        subprocess.run(
            ["docker", "buildx", "build", "--progress=quiet", "-o", output, str(ctx)],
            env=env,
            check=True,
        )
    for i, (path, mt) in enumerate(_oci_layers(dest)):
        found.append((f"example layer {i}", path, mt))
    unique: dict[str, tuple[str, Path, str]] = {}
    for item in found:
        unique.setdefault(item[1].name, item)  # a base layer shared by two images counts once
    return list(unique.values())


def floor_seconds(blob: Path) -> float:
    start = time.perf_counter()
    pipeline = f"gzip -dc '{blob}' | sha256sum > /dev/null"
    subprocess.run(pipeline, shell=True, check=True, executable="/bin/bash")
    return time.perf_counter() - start


def worker(mode: str, workers: int, paths: list[str]) -> None:
    """Runs in a fresh process: scan, then print seconds and memory as JSON."""
    from cachetrace.outputs.decompress import INFLATE_BACKEND
    from cachetrace.outputs.parallel import LayerBlob, scan_layer_files

    blobs = [LayerBlob(Path(p)) for p in paths]
    if mode == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
    start = time.perf_counter()
    scans = scan_layer_files(blobs, workers=workers)
    seconds = time.perf_counter() - start
    peak = 0
    if mode == "tracemalloc":
        import tracemalloc

        peak = tracemalloc.get_traced_memory()[1]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxrss_kib": _peak_rss_kib(),
                "tracemalloc_peak": peak,
                "backend": INFLATE_BACKEND,
                "uncompressed": sum(s.uncompressed_size for s in scans),
                "entries": sum(len(s.entries) for s in scans),
                "binaries": sum(len(s.binaries) for s in scans),
            }
        )
    )


def _peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across
    execve, so a worker would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_worker(
    paths: list[Path], *, workers: int = 1, zlib: bool = False, mode: str = "time"
) -> dict[str, float]:
    env = dict(os.environ)
    if zlib:
        env["CACHETRACE_INFLATE"] = "zlib"
    cmd = [sys.executable, "-m", "bench.layer_scan", "--worker", mode, "--workers", str(workers)]
    out = subprocess.run(
        [*cmd, *map(str, paths)], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


@dataclass(frozen=True)
class Row:
    label: str
    compressed: int
    uncompressed: int
    entries: int
    binaries: int
    floor: float
    isal: float
    zlib: float
    maxrss_kib: int
    tracemalloc: int


@dataclass(frozen=True)
class Multi:
    layers: int
    floor: float
    seq: float
    par: float
    par_zlib: float
    maxrss_kib: int


def measure_layer(label: str, path: Path, repeat: int) -> Row:
    # floor and cachetrace alternate, so load from other work on the machine hits both alike
    floors: list[float] = []
    isal: list[dict[str, float]] = []
    zl: list[dict[str, float]] = []
    for _ in range(repeat):
        floors.append(floor_seconds(path))
        isal.append(run_worker([path]))
        zl.append(run_worker([path], zlib=True))
    floor = statistics.median(floors)
    mem = run_worker([path], mode="tracemalloc")
    return Row(
        label=label,
        compressed=path.stat().st_size,
        uncompressed=int(isal[0]["uncompressed"]),
        entries=int(isal[0]["entries"]),
        binaries=int(isal[0]["binaries"]),
        floor=floor,
        isal=statistics.median([r["seconds"] for r in isal]),
        zlib=statistics.median([r["seconds"] for r in zl]),
        maxrss_kib=int(max(r["maxrss_kib"] for r in isal)),
        tracemalloc=int(mem["tracemalloc_peak"]),
    )


def measure_all(paths: list[Path], repeat: int) -> Multi:
    def med(runs: list[dict[str, float]]) -> float:
        return statistics.median([r["seconds"] for r in runs])

    floors: list[float] = []
    seq: list[dict[str, float]] = []
    par: list[dict[str, float]] = []
    par_zlib: list[dict[str, float]] = []
    for _ in range(repeat):  # alternating, as in measure_layer
        floors.append(sum(floor_seconds(p) for p in paths))
        seq.append(run_worker(paths, workers=1))
        par.append(run_worker(paths, workers=2))
        par_zlib.append(run_worker(paths, workers=2, zlib=True))
    return Multi(
        layers=len(paths),
        floor=statistics.median(floors),
        seq=med(seq),
        par=med(par),
        par_zlib=med(par_zlib),
        maxrss_kib=int(max(r["maxrss_kib"] for r in par)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS-layer-scan.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.workers, args.paths)
        return 0

    layers = [item for item in export_layers(_engine_env()) if item[2].endswith("gzip")]
    load_before = os.getloadavg()[0]
    for _, path, _ in layers:  # warm the page cache without growing this process
        with path.open("rb") as f:
            while f.read(1 << 20):
                pass
    rows = []
    for label, path, _ in layers:
        rows.append(measure_layer(label, path, args.repeat))
        print(rows[-1], flush=True)
    multi = measure_all([p for _, p, _ in layers], args.repeat)
    print(multi, flush=True)
    load = (load_before, os.getloadavg()[0])
    args.out.write_text(render(rows, multi, args.repeat, load))
    print(f"wrote {args.out}")
    return 0


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.1f}"


def _machine() -> str:
    import zlib

    import isal

    gzip_version = subprocess.run(
        ["gzip", "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    cpu = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"isal {isal.__version__}, zlib {zlib.ZLIB_RUNTIME_VERSION}, {gzip_version}"
    )


def render(rows: list[Row], multi: Multi, repeat: int, load: tuple[float, float]) -> str:
    big = max(rows, key=lambda r: r.uncompressed)
    lines = [
        "# Layer scan throughput",
        "",
        "Written by `python -m bench.layer_scan` (bench/layer_scan.py).",
        "",
        f"Machine: {_machine()}. Median of {repeat} runs, page cache warm. Load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after (the engine is shared: other builds and "
        "tests may run at the same time, which adds noise to both sides of each ratio).",
        "",
        "Floor = wall time of `gzip -dc BLOB | sha256sum` (decompress and hash one stream). "
        "cachetrace = `scan_layer` on the same blob in a fresh process: diffID, sha256 of "
        "every file, every entry, executables with ELF facts and Go build info, content "
        "digest. Ratio = cachetrace / floor (below 1.00 is faster than the floor).",
        "",
        "## One layer at a time",
        "",
        "| layer | gzip MiB | tar MiB | entries | binaries | floor s | ISA-L s | ratio "
        "| zlib s | ratio | peak RSS MiB | tracemalloc peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.label} | {_mib(r.compressed)} | {_mib(r.uncompressed)} | {r.entries} "
            f"| {r.binaries} | {r.floor:.3f} | {r.isal:.3f} | {r.isal / r.floor:.2f} "
            f"| {r.zlib:.3f} | {r.zlib / r.floor:.2f} | {r.maxrss_kib / 1024:.0f} "
            f"| {_mib(r.tracemalloc)} |"
        )
    lines += [
        "",
        f"## All {multi.layers} layers together",
        "",
        "| what | seconds | ratio to the floor |",
        "|---|---:|---:|",
        f"| floor: every layer's floor pipeline, one after another | {multi.floor:.3f} | 1.00 |",
    ]
    for what, seconds in (
        ("cachetrace, one layer at a time (ISA-L)", multi.seq),
        ("cachetrace, 2 layers in flight (ISA-L)", multi.par),
        ("cachetrace, 2 layers in flight (zlib)", multi.par_zlib),
    ):
        lines.append(f"| {what} | {seconds:.3f} | {seconds / multi.floor:.2f} |")
    lines += [
        "",
        f"Peak RSS (VmHWM), 2 layers in flight: {multi.maxrss_kib / 1024:.0f} MiB.",
        "",
        "## Reading",
        "",
        f"- Largest layer ({big.label}, {_mib(big.uncompressed)} MiB of tar): cachetrace "
        f"takes {big.isal / big.floor:.2f}x the floor with ISA-L and {big.zlib / big.floor:.2f}x "
        f"with zlib; ISA-L inflates that layer {big.zlib / big.isal:.1f}x faster end to end, so "
        "it is a dependency (zlib stays the fallback, `CACHETRACE_INFLATE=zlib`).",
        "- How: one thread inflates and hashes the tar (diffID) while the caller's thread "
        "parses headers and hashes each file; both release the GIL on large buffers. "
        "`scan_layer_files(workers=2)` keeps two layers in flight: "
        f"{multi.par:.2f} s against {multi.seq:.2f} s one at a time here "
        f"({multi.par / multi.seq:.2f}x). The largest layer holds {_mib(big.uncompressed)} of "
        f"the {_mib(sum(r.uncompressed for r in rows))} MiB of tar, so two in flight can at "
        "best hide the smaller ones behind it; on a shared 2-core machine that gain is "
        "within the noise.",
        "- Memory is bounded by the chunk queue (4 x 1 MiB) plus the executable being read "
        "(kept up to a 256 MiB cap, briefly twice while copied): the peaks above are the "
        "interpreter (~20 MiB) plus the largest binary in the layer, not the layer size.",
        "- Layers of a few MiB take tens of milliseconds; there the fixed costs (thread "
        "start, per-entry Python work on hundreds of small files) weigh more than inflate.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
