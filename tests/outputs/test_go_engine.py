"""Go binaries built for real on the engine, read by cachetrace and by ``go version -m``.

One build in the Go image cross-compiles the module from ``goproject`` for several targets
(cgo off, deps from a local proxy directory, ``-trimpath``, ``-ldflags``, ``-tags``, PIE) and
runs ``go version -m`` on every output in the same image; the host's ``file`` reads the ELF
headers. The pointer-format files from ``legacy_elf`` go through the same ``go version -m``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cachetrace.model.outputs import ExecutableFormat, GoBuildInfo
from cachetrace.outputs.binary import inspect_binary
from tests.engine import Engine
from tests.outputs.goproject import write_project
from tests.outputs.legacy_elf import legacy_elf

pytestmark = pytest.mark.engine

# output name -> go build command line (run in /src of the Go image)
TARGETS = {
    "linux-amd64": "GOOS=linux GOARCH=amd64 go build -trimpath "
    "-ldflags='-s -w -X main.version=1.0'",
    "linux-arm64": "GOOS=linux GOARCH=arm64 go build -tags netgo,osusergo",
    "linux-386": "GOOS=linux GOARCH=386 GO386=softfloat go build",
    "linux-amd64-pie": "GOOS=linux GOARCH=amd64 GOAMD64=v3 go build -buildmode=pie",
    "windows-amd64.exe": "GOOS=windows GOARCH=amd64 go build -ldflags=-H=windowsgui",
    "darwin-arm64": "GOOS=darwin GOARCH=arm64 go build -trimpath",
}
LEGACY = {
    "legacy-le64": dict(
        version="go1.16.15",
        modinfo="path\texample.com/old\nmod\texample.com/old\t(devel)\t\n"
        "dep\tgolang.org/x/text\tv0.3.7\th1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=\n"
        "dep\texample.com/a\tv1.0.0\t\n=>\t../a\t\t\n",
    ),
    "legacy-be32": dict(
        version="go1.15.2",
        modinfo="path\texample.com/be\nmod\texample.com/be\tv0.1.0\th1:abc=\n",
        big=True,
        bits=32,
    ),
    "legacy-gopath": dict(version="go1.12", modinfo=""),
    "legacy-bss": dict(version="go1.14.1", modinfo="", bss=True),
}
FILE_ARCH = {"amd64": "x86-64", "arm64": "ARM aarch64", "386": "Intel 80386"}

DOCKERFILE = """
FROM --platform=$BUILDPLATFORM golang:local AS build
COPY proxy /proxy
COPY app /src
COPY legacy /legacy
WORKDIR /src
ENV GOPROXY=file:///proxy GOFLAGS=-mod=mod GOSUMDB=off GONOSUMDB=example.com
RUN --mount=type=cache,target=/root/.cache/go-build \\
    set -e; mkdir /out; {builds} \\
    for f in /out/* /legacy/*; do go version -m "$f" > /out/$(basename $f).version-m; done
FROM scratch
COPY --from=build /out /
COPY --from=build /legacy /
"""


@pytest.fixture(scope="module")
def built(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ctx = tmp_path_factory.mktemp("goctx")
    write_project(ctx)
    (ctx / "legacy").mkdir()
    for name, spec in LEGACY.items():
        (ctx / "legacy" / name).write_bytes(legacy_elf(**spec))  # type: ignore[arg-type]
    builds = " ".join(f"{cmd} -o /out/{name} . ;" for name, cmd in TARGETS.items())
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(builds=builds))
    out = ctx / "out"
    engine.docker(
        "buildx",
        "build",
        "--progress=plain",
        "-o",
        f"type=local,dest={out}",
        str(ctx),
        timeout=1200,
    )
    return out


def _go_version_m(text: str) -> dict[str, object]:
    """Parse ``go version -m`` output independently of cachetrace's parser."""
    lines = text.splitlines()
    result: dict[str, object] = {
        "go": lines[0].split(": ", 1)[1],
        "path": "",
        "mod": None,
        "deps": [],
        "settings": {},
    }
    deps: list[list[str | None]] = result["deps"]  # type: ignore[assignment]
    settings: dict[str, str] = result["settings"]  # type: ignore[assignment]
    for line in lines[1:]:
        fields = line.strip("\t").split("\t")
        kind = fields[0]
        if kind == "path":
            result["path"] = fields[1]
        elif kind == "mod":
            result["mod"] = [*fields[1:], "", ""][:3]
        elif kind == "dep":
            path, version, checksum = [*fields[1:], "", ""][:3]
            deps.append([path, version, checksum, None])
        elif kind == "=>":
            deps[-1][3] = "\t".join(fields[1:]).rstrip("\t")
        elif kind == "build":
            key, _, value = fields[1].partition("=")
            settings[key] = json.loads(value) if value.startswith('"') else value
    return result


def _ours(go: GoBuildInfo) -> dict[str, object]:
    def replaced(r: object) -> str | None:
        if r is None:
            return None
        return "\t".join([r.path, r.version, r.sum]).rstrip("\t")  # type: ignore[attr-defined]

    return {
        "go": go.go_version,
        "path": go.path,
        "mod": None if go.main is None else [go.main.path, go.main.version, go.main.sum],
        "deps": [[d.path, d.version, d.sum, replaced(d.replace)] for d in go.deps],
        "settings": dict(go.settings),
    }


@pytest.mark.parametrize("name", [*TARGETS, *LEGACY])
def test_build_info_matches_go_version_m(built: Path, name: str) -> None:
    data = (built / name).read_bytes()
    info = inspect_binary(data, name)
    assert info is not None
    assert info.go is not None
    expected = _go_version_m((built / f"{name}.version-m").read_text())
    assert _ours(info.go) == expected
    if name in LEGACY:
        assert info.go.legacy_format
        return
    goos, goarch = name.removesuffix(".exe").split("-")[:2]
    assert (info.go.goos, info.go.goarch, info.go.cgo_enabled) == (goos, goarch, False)
    assert (info.os, info.arch) == (goos, goarch)
    dep_paths = [d.path for d in info.go.deps]
    assert dep_paths == ["example.com/color", "example.com/greet"]
    assert info.go.deps[0].replace is not None
    assert info.go.deps[0].replace.path == "example.com/colorfork"


def test_settings_that_matter_are_read(built: Path) -> None:
    def go(name: str) -> GoBuildInfo:
        info = inspect_binary((built / name).read_bytes(), name)
        assert info is not None and info.go is not None
        return info.go

    amd = go("linux-amd64")
    assert amd.settings["-trimpath"] == "true"
    assert "-ldflags" not in amd.settings  # Go drops -ldflags from build info under -trimpath
    assert amd.arch_level == "GOAMD64=v1"
    assert go("linux-arm64").settings["-tags"] == "netgo,osusergo"
    assert go("linux-arm64").arch_level.startswith("GOARM64=")
    assert go("linux-386").arch_level == "GO386=softfloat"
    assert go("linux-amd64-pie").arch_level == "GOAMD64=v3"
    assert go("windows-amd64.exe").settings["-ldflags"] == "-H=windowsgui"


@pytest.mark.skipif(shutil.which("file") is None, reason="needs the file(1) command")
def test_headers_match_file(built: Path) -> None:
    checked = 0
    for name in [*TARGETS, *LEGACY]:
        path = built / name
        info = inspect_binary(path.read_bytes(), name)
        assert info is not None
        desc = subprocess.run(
            ["file", "-b", str(path)], capture_output=True, text=True, check=True
        ).stdout
        if info.format is ExecutableFormat.ELF:
            assert desc.startswith(f"ELF {info.bits}-bit {'MSB' if info.big_endian else 'LSB'}")
            if info.arch in FILE_ARCH:
                assert FILE_ARCH[info.arch] in desc, (name, desc)
            else:
                assert info.arch == "ppc" and "PowerPC" in desc
            assert ("dynamically linked" in desc) == (info.static is False), (name, desc)
            if info.interpreter:
                assert f"interpreter {info.interpreter}" in desc
            assert ("not stripped" in desc) == (info.stripped is False), (name, desc)
        elif info.format is ExecutableFormat.PE:
            assert desc.startswith("PE32+ executable") and "x86-64" in desc
            assert "(GUI)" in desc and info.subsystem == "windows-gui"
        else:
            assert desc.startswith("Mach-O 64-bit arm64")
            assert info.arch == "arm64" and info.os == "darwin"
        checked += 1
    assert checked == len(TARGETS) + len(LEGACY)


def test_pie_binary_is_dynamic_with_an_interpreter(built: Path) -> None:
    info = inspect_binary((built / "linux-amd64-pie").read_bytes())
    assert info is not None
    assert info.elf_type == "DYN" and info.static is False
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"
