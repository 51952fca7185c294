"""A Go module proxy we control, for scenarios whose builds fetch modules.

Two ways to hand it to a build, both outside the build's cache key on purpose where a
scenario needs drift:

* ``write_proxy(root, modules)`` lays out a GOPROXY directory (the protocol of
  ``go help goproxy``): ``<escaped module>/@v/list``, ``<v>.info``, ``<v>.mod``, ``<v>.zip``
  with entries prefixed ``module@version/``. Usable as ``GOPROXY=file:///root``.
* ``ProxyServer(root)`` serves that directory over HTTP on ``127.0.0.1`` only (a random port
  unless one is given). A ``RUN --network=host`` step (``docker buildx build --allow
  network.host``; the Docker Engine's embedded BuildKit grants it) reaches it as
  ``GOPROXY=http://127.0.0.1:PORT``. The key holds the URL, never what the server answers,
  so rewriting the directory between two builds makes a module drift behind an unchanged key.

``greet(version)`` is the drifting module the scenarios use; ``go_sum_lines`` gives the
``go.sum`` lines that pin a version (``h1:`` hashes computed as golang.org/x/mod's dirhash
``Hash1`` does).

Command line (for shell scripts)::

    python -m tests.scenarios.goproxy write DIR v1.0.0 [v1.1.0 ...]
    python -m tests.scenarios.goproxy serve DIR [--port N]
    python -m tests.scenarios.goproxy gosum v1.0.0
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import io
import json
import shutil
import sys
import threading
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

GREET = "example.com/greet"
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def escape_path(path: str) -> str:
    """Module path or version as the proxy protocol spells it: upper case -> ``!`` + lower."""
    return "".join("!" + c.lower() if c.isupper() else c for c in path)


def _hash1(files: Mapping[str, bytes]) -> str:
    """dirhash.Hash1: sha256 over ``"<sha256 hex>  <name>\\n"`` lines, names sorted."""
    summary = hashlib.sha256()
    for name in sorted(files):
        summary.update(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


@dataclass(frozen=True)
class ModuleVersion:
    """One version of one module: its files (relative path -> text); ``go.mod`` is required."""

    path: str
    version: str
    files: Mapping[str, str] = field(default_factory=dict)
    time: str = "2026-01-01T00:00:00Z"

    def __post_init__(self) -> None:
        if "go.mod" not in self.files:
            raise ValueError(f"{self.path}@{self.version}: files must include go.mod")
        if not self.version.startswith("v"):
            raise ValueError(f"{self.path}: version {self.version!r} must start with 'v'")

    @property
    def go_mod(self) -> str:
        return self.files["go.mod"]

    def _zip_files(self) -> dict[str, bytes]:
        prefix = f"{self.path}@{self.version}/"
        return {prefix + name: text.encode() for name, text in self.files.items()}

    def zip_bytes(self) -> bytes:
        """The module zip, byte-for-byte reproducible (fixed times, sorted entries)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in sorted(self._zip_files().items()):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
        return buf.getvalue()

    def h1(self) -> str:
        return _hash1(self._zip_files())

    def go_mod_h1(self) -> str:
        return _hash1({"go.mod": self.go_mod.encode()})

    def go_sum_lines(self) -> list[str]:
        return [
            f"{self.path} {self.version} {self.h1()}",
            f"{self.path} {self.version}/go.mod {self.go_mod_h1()}",
        ]


def write_proxy(
    root: Path,
    modules: Iterable[ModuleVersion],
    *,
    extra_files: Mapping[str, str] | None = None,
    clean: bool = True,
) -> None:
    """Write a GOPROXY directory holding exactly ``modules`` (plus ``extra_files``).

    With ``clean`` (the default) the directory's previous contents go first, so a second call
    with other versions is a drift of the same proxy, not a union.
    """
    root = Path(root)
    if clean and root.exists():
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    by_module: dict[str, list[ModuleVersion]] = {}
    for mv in modules:
        by_module.setdefault(mv.path, []).append(mv)
    for path, versions in by_module.items():
        vdir = root / escape_path(path) / "@v"
        vdir.mkdir(parents=True, exist_ok=True)
        for mv in versions:
            stem = vdir / escape_path(mv.version)
            info = {"Version": mv.version, "Time": mv.time}
            stem.with_name(stem.name + ".info").write_text(json.dumps(info) + "\n")
            stem.with_name(stem.name + ".mod").write_text(mv.go_mod)
            stem.with_name(stem.name + ".zip").write_bytes(mv.zip_bytes())
        listing = "".join(mv.version + "\n" for mv in versions)
        (vdir / "list").write_text(listing)
    for rel, text in (extra_files or {}).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def greet(version: str) -> ModuleVersion:
    """``example.com/greet`` at ``version``: a library and a command that print the version."""
    return ModuleVersion(
        GREET,
        version,
        {
            "go.mod": f"module {GREET}\n\ngo 1.24\n",
            "greet.go": (
                "// Package greet says which version of it was built in.\n"
                "package greet\n\n"
                f'const Version = "{version}"\n\n'
                'func Greeting() string { return "hello from greet " + Version }\n'
            ),
            "cmd/greet/main.go": (
                "package main\n\n"
                'import (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\n'
                "func main() { fmt.Println(greet.Greeting()) }\n"
            ),
        },
        time=f"2026-01-0{1 + (sum(map(ord, version)) % 8)}T00:00:00Z",
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class ProxyServer:
    """Serve a directory over HTTP on 127.0.0.1 only, in a daemon thread of this process."""

    def __init__(self, root: Path, port: int = 0) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProxyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.scenarios.goproxy")
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help=f"write a proxy dir holding {GREET} at VERSIONS")
    w.add_argument("dir", type=Path)
    w.add_argument("versions", nargs="+")
    s = sub.add_parser("serve", help="serve DIR on 127.0.0.1 until interrupted")
    s.add_argument("dir", type=Path)
    s.add_argument("--port", type=int, default=0)
    g = sub.add_parser("gosum", help=f"print the go.sum lines pinning {GREET}@VERSION")
    g.add_argument("version")
    args = parser.parse_args(argv)
    if args.cmd == "write":
        write_proxy(args.dir, [greet(v) for v in args.versions])
    elif args.cmd == "gosum":
        print("\n".join(greet(args.version).go_sum_lines()))
    else:
        server = ProxyServer(args.dir, args.port)
        print(server.url, flush=True)
        try:
            server._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server._server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
