"""A small Go module with dependencies served from a local module proxy directory.

``write_project(dir)`` lays out ``proxy/`` (GOPROXY=file:///proxy layout: list, .info, .mod,
.zip per version) and ``app/`` (a main package requiring ``example.com/greet`` and
``example.com/color``, the latter replaced by ``example.com/colorfork``), so builds need no
network and the binaries carry dep lines with h1 sums and a replacement.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

_MODULES = {
    ("example.com/greet", "v1.2.0"): (
        "example.com/greet",
        {"greet.go": 'package greet\n\nfunc Hello() string { return "hello" }\n'},
    ),
    ("example.com/color", "v0.3.0"): (
        "example.com/color",
        {"color.go": 'package color\n\nfunc Name() string { return "red" }\n'},
    ),
    # a fork that keeps the original module path, as a `replace` requires
    ("example.com/colorfork", "v0.3.1"): (
        "example.com/color",
        {"color.go": 'package color\n\nfunc Name() string { return "blue" }\n'},
    ),
}

# println, not fmt: the runtime alone keeps six cold cross-compiles short on two cores
MAIN = """package main

import (
\t"example.com/color"
\t"example.com/greet"
)

var version = "dev"

func main() { println(greet.Hello(), color.Name(), version) }
"""

GO_MOD = """module example.com/app

go 1.24

require (
\texample.com/color v0.3.0
\texample.com/greet v1.2.0
)

replace example.com/color => example.com/colorfork v0.3.1
"""


def write_project(root: Path) -> None:
    for (path, version), (declared, files) in _MODULES.items():
        vdir = root / "proxy" / path / "@v"
        vdir.mkdir(parents=True, exist_ok=True)
        with (vdir / "list").open("a") as f:
            f.write(version + "\n")
        (vdir / f"{version}.info").write_text(
            json.dumps({"Version": version, "Time": "2024-01-01T00:00:00Z"})
        )
        gomod = f"module {declared}\n\ngo 1.21\n"
        (vdir / f"{version}.mod").write_text(gomod)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"{path}@{version}/go.mod", gomod)
            for name, text in files.items():
                z.writestr(f"{path}@{version}/{name}", text)
        (vdir / f"{version}.zip").write_bytes(buf.getvalue())
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "go.mod").write_text(GO_MOD)
    (app / "main.go").write_text(MAIN)
