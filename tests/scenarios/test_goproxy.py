"""The module proxy helper writes what the Go toolchain reads (hashes checked against go 1.24)."""

from __future__ import annotations

import json
import urllib.request
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from tests.scenarios.goproxy import GREET, ModuleVersion, ProxyServer, escape_path, greet, main
from tests.scenarios.goproxy import write_proxy as write

# What `go mod download -json example.com/greet@v1.0.0` printed for greet("v1.0.0") (go1.24.4).
GO_SUM_V100 = "h1:ZeQ9AVmFYS8mcEUAWYn/mtqOPgye9HDst0iP4BV8ZgY="
GO_MOD_SUM_V100 = "h1:WtYf1HGpkE+LZeokCowx6tOFQmTZCdXnYgb2vii/E7E="
# ... and what `go version -m` showed for the v1.1.0 build.
GO_SUM_V110 = "h1:UrboXc6e+tSKobf3HzT7OQVA4hgGMQeZYiNJ7iNi+GY="


def test_escape_path() -> None:
    assert escape_path("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"
    assert escape_path("example.com/greet") == "example.com/greet"


def test_hashes_match_the_go_toolchain() -> None:
    v100 = greet("v1.0.0")
    assert v100.h1() == GO_SUM_V100
    assert v100.go_mod_h1() == GO_MOD_SUM_V100
    assert greet("v1.1.0").h1() == GO_SUM_V110
    assert v100.go_sum_lines() == [
        f"{GREET} v1.0.0 {GO_SUM_V100}",
        f"{GREET} v1.0.0/go.mod {GO_MOD_SUM_V100}",
    ]


def test_zip_is_reproducible_and_prefixed() -> None:
    v = greet("v1.0.0")
    assert v.zip_bytes() == greet("v1.0.0").zip_bytes()
    names = zipfile.ZipFile(BytesIO(v.zip_bytes())).namelist()
    assert names == sorted(names)
    assert all(n.startswith(f"{GREET}@v1.0.0/") for n in names)
    assert f"{GREET}@v1.0.0/go.mod" in names


def test_module_version_validation() -> None:
    with pytest.raises(ValueError, match=r"go\.mod"):
        ModuleVersion("example.com/x", "v1.0.0", {"x.go": "package x\n"})
    with pytest.raises(ValueError, match="start with 'v'"):
        ModuleVersion("example.com/x", "1.0.0", {"go.mod": "module example.com/x\n"})


def test_layout_and_drift(tmp_path: Path) -> None:
    write(tmp_path, [greet("v1.0.0")], extra_files={"files/p.txt": "p\n"})
    vdir = tmp_path / "example.com" / "greet" / "@v"
    assert (vdir / "list").read_text() == "v1.0.0\n"
    info = json.loads((vdir / "v1.0.0.info").read_text())
    assert info["Version"] == "v1.0.0" and info["Time"].endswith("Z")
    assert (vdir / "v1.0.0.mod").read_text() == greet("v1.0.0").go_mod
    assert (tmp_path / "files" / "p.txt").read_text() == "p\n"
    # A second write is a new state of the same proxy, not a union.
    write(tmp_path, [greet("v1.0.0"), greet("v1.1.0")])
    assert (vdir / "list").read_text() == "v1.0.0\nv1.1.0\n"
    assert not (tmp_path / "files").exists()
    write(tmp_path, [greet("v1.1.0")])
    assert sorted(p.name for p in vdir.iterdir()) == [
        "list",
        "v1.1.0.info",
        "v1.1.0.mod",
        "v1.1.0.zip",
    ]


def test_server_serves_on_loopback_only(tmp_path: Path) -> None:
    write(tmp_path, [greet("v1.0.0")])
    with ProxyServer(tmp_path) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{server.url}/{GREET}/@v/list", timeout=5) as resp:
            assert resp.read() == b"v1.0.0\n"
        # The directory is read on every request: rewriting it is a drift.
        write(tmp_path, [greet("v1.0.0"), greet("v1.1.0")])
        with urllib.request.urlopen(f"{server.url}/{GREET}/@v/list", timeout=5) as resp:
            assert resp.read() == b"v1.0.0\nv1.1.0\n"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["write", str(tmp_path), "v1.0.0", "v1.1.0"]) == 0
    assert (tmp_path / GREET / "@v" / "list").read_text() == "v1.0.0\nv1.1.0\n"
    assert main(["gosum", "v1.0.0"]) == 0
    assert GO_SUM_V100 in capsys.readouterr().out
