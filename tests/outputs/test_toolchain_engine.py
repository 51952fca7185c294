"""Every executable in the Go toolchain image, against ``file`` and ``go version -m``.

The golang:local layer holds the Debian-built toolchain (Go binaries) and the race
detector's objects for several architectures (ELF and Mach-O ``.syso``): a wide, real
sample of headers that cachetrace finds while streaming the layer once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from cachetrace.model.outputs import ExecutableFormat
from cachetrace.outputs.layer import scan_layer
from tests.engine import Engine

pytestmark = pytest.mark.engine

# GOARCH -> what file(1) prints for that ELF machine
FILE_ARCH = {
    "amd64": "x86-64",
    "arm64": "ARM aarch64",
    "386": "Intel 80386",
    "ppc64le": "64-bit PowerPC",
    "ppc64": "64-bit PowerPC",
    "ppc": "PowerPC",
    "s390x": "IBM S/390",
    "riscv64": "RISC-V",
    "loong64": "LoongArch",
    "arm": "ARM,",
    "mips": "MIPS",
    "mipsle": "MIPS",
    "mips64": "MIPS",
    "mips64le": "MIPS",
    "sparc64": "SPARC V9",
}
MACHO_ARCH = {"amd64": "x86_64", "arm64": "arm64"}

VERSIONS = """
FROM golang:local
RUN mkdir /out && for f in /usr/lib/go-1.24/bin/* /usr/lib/go-1.24/pkg/tool/*/*; do \\
      go version -m "$f" > "/out/$(echo "$f" | tr / %).txt" || true; done
FROM scratch
COPY --from=0 /out /
"""


@pytest.fixture(scope="module")
def toolchain(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golang-image")
    engine.docker("save", "golang:local", "-o", str(root / "image.tar"))
    with tarfile.open(root / "image.tar") as tf:
        tf.extractall(root / "oci", filter="data")
    return root


def _layer(root: Path) -> tuple[Path, str]:
    oci = root / "oci"
    index = json.loads((oci / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((oci / "blobs" / "sha256" / digest).read_text())
    layer = manifest["layers"][0]
    return oci / "blobs" / "sha256" / layer["digest"].split(":")[1], layer["mediaType"]


@pytest.mark.skipif(shutil.which("file") is None, reason="needs the file(1) command")
def test_every_executable_matches_file(toolchain: Path) -> None:
    blob, media_type = _layer(toolchain)
    with blob.open("rb") as f:
        scan = scan_layer(f, media_type=media_type, name="golang:local")
    assert len(scan.binaries) >= 20
    wanted = {b.path.lstrip("/") for b in scan.binaries}
    out = toolchain / "files"
    with tarfile.open(blob) as tf:
        members = [m for m in tf.getmembers() if m.name.lstrip("./") in wanted]
        tf.extractall(out, members=members, filter="data")
    formats = set()
    for b in scan.binaries:
        desc = subprocess.run(
            ["file", "-b", str(out / b.path.lstrip("/"))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        formats.add((b.format, b.arch))
        if b.format is ExecutableFormat.ELF:
            endian = "MSB" if b.big_endian else "LSB"
            assert desc.startswith(f"ELF {b.bits}-bit {endian}"), (b.path, desc)
            assert FILE_ARCH[b.arch] in desc, (b.path, b.arch, desc)
        elif b.format is ExecutableFormat.PE:
            assert desc.startswith("PE32+" if b.bits == 64 else "PE32 "), (b.path, desc)
            assert FILE_ARCH[b.arch] in desc, (b.path, desc)
        elif b.format is ExecutableFormat.MACHO:
            assert desc.startswith(f"Mach-O {b.bits}-bit"), (b.path, desc)
            assert MACHO_ARCH[b.arch] in desc, (b.path, desc)
    assert len({arch for _, arch in formats}) >= 10  # many architectures were really seen
    assert {f for f, _ in formats} == set(ExecutableFormat)


def test_toolchain_build_info_matches_go_version_m(engine: Engine, tmp_path: Path) -> None:
    from tests.outputs.test_go_engine import _go_version_m, _ours

    (tmp_path / "Dockerfile").write_text(VERSIONS)
    out = tmp_path / "out"
    engine.docker(
        "buildx", "build", "--progress=plain", "-o", f"type=local,dest={out}", str(tmp_path)
    )
    image = tmp_path / "image.tar"
    engine.docker("save", "golang:local", "-o", str(image))
    with tarfile.open(image) as tf:
        tf.extractall(tmp_path / "oci", filter="data")
    blob, media_type = _layer(tmp_path)
    with blob.open("rb") as f:
        scan = scan_layer(f, media_type=media_type, name="golang:local")
    go_binaries = {b.path: b for b in scan.binaries if b.go is not None}
    compared = 0
    for report in sorted(out.glob("*.txt")):
        text = report.read_text()
        if not text.strip():
            continue
        path = report.stem.replace("%", "/")
        binary = go_binaries[path]
        assert binary.go is not None
        assert _ours(binary.go) == _go_version_m(text), path
        compared += 1
    assert compared >= 10
    assert compared == len(
        [
            p
            for p in go_binaries
            if p.startswith(("/usr/lib/go-1.24/bin/", "/usr/lib/go-1.24/pkg/tool/"))
        ]
    )
