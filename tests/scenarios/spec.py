"""Scenario specs (``tests/scenarios/<id>/scenario.json``) and the build commands they give.

A scenario is a directory with a ``Dockerfile``, its context, and ``scenario.json``::

    {
      "rule": "platform-collapse",          # the rule it exists for ("" for clean controls)
      "clean": false,                       # clean controls must give nothing >= warning
      "build": {                            # docker buildx build options shared by every run
        "platforms": ["linux/amd64", "linux/arm64"],
        "build_args": {"GOPROXY": "{proxy}"},   # {proxy}: URL of the loopback module proxy,
                                                # http://127.0.0.1:PORT/<fresh prefix>
        "secrets": {"tok": "ghp_..."},          # id -> planted value (written to a temp file)
        "allow": ["network.host"],
        "output": "local"                       # -o type=local,dest=<out dir>
      },
      "proxy": ["v1.0.0"],                  # example.com/greet versions the proxy serves
      "runs": [                             # optional; default: one run with no overrides
        {"name": "v1", "proxy": ["v1.0.0"], "no_cache": true,
         "secrets": {...}, "build_args": {...}}
      ],
      "expect": [{"rule": "...", "line": 6, "severity": "error", "anchor": "RUN go build",
                  "platform": "linux/arm64", "evidence": "what the finding must show"}],
      "notes": "mechanism, what a run shows"
    }

``{proxy}`` and ``{run_id}`` in build-arg values are filled in by ``Scenario.argv``: the URL of
a ``goproxy.ProxyServer`` on 127.0.0.1 (reachable only from ``RUN --network=host`` steps) and a
fresh token per call. Everything here is standard library, so the recorder's engine tests can
build the same commands behind ``cachetrace record --``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.scenarios.goproxy import greet, write_proxy

ROOT = Path(__file__).resolve().parent
Severity = Literal["info", "warning", "error"]

#: Served next to the module proxy; ``clean-secret-pinned-fetch`` pins it by sha256.
PAYLOAD = "a pinned payload, served by the scenario proxy\n"
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD.encode()).hexdigest()


@dataclass(frozen=True)
class Expect:
    rule: str
    line: int
    severity: Severity
    evidence: str
    anchor: str = ""
    platform: str = ""


@dataclass(frozen=True)
class Run:
    name: str = "default"
    proxy: tuple[str, ...] | None = None
    no_cache: bool = False
    secrets: Mapping[str, str] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildSpec:
    platforms: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    allow: tuple[str, ...] = ()
    output: Literal["local", "none"] = "local"


@dataclass(frozen=True)
class Scenario:
    id: str
    dir: Path
    rule: str
    clean: bool
    build: BuildSpec
    proxy: tuple[str, ...] | None
    runs: tuple[Run, ...]
    expect: tuple[Expect, ...]
    notes: str

    @property
    def dockerfile(self) -> Path:
        return self.dir / "Dockerfile"

    @property
    def needs_proxy(self) -> bool:
        return self.proxy is not None or any(r.proxy is not None for r in self.runs)

    def run(self, name: str) -> Run:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(f"{self.id}: no run {name!r}")

    def proxy_versions(self, run: Run) -> tuple[str, ...]:
        return run.proxy if run.proxy is not None else (self.proxy or ())

    def write_proxy(self, root: Path, run: Run) -> None:
        """Lay out the proxy state ``run`` wants (greet versions + the pinned payload)."""
        write_proxy(
            root,
            [greet(v) for v in self.proxy_versions(run)],
            extra_files={"files/payload.txt": PAYLOAD},
        )

    def argv(
        self,
        run: Run,
        *,
        out_dir: Path | None,
        secret_dir: Path,
        proxy_url: str = "",
        metadata_file: Path | None = None,
    ) -> list[str]:
        """``docker buildx build …`` for ``run``; secret values go to files in ``secret_dir``."""
        argv = ["docker", "buildx", "build", "--progress=plain"]
        b = self.build
        if b.platforms:
            argv.append("--platform=" + ",".join(b.platforms))
        for entitlement in b.allow:
            argv += ["--allow", entitlement]
        run_id = uuid.uuid4().hex[:12]
        for key, raw in {**b.build_args, **run.build_args}.items():
            value = raw.replace("{proxy}", proxy_url).replace("{run_id}", run_id)
            argv += ["--build-arg", f"{key}={value}"]
        secret_dir.mkdir(parents=True, exist_ok=True)
        for sid, value in {**b.secrets, **run.secrets}.items():
            path = secret_dir / f"{self.id}-{run.name}-{sid}"
            path.write_text(value)
            argv += ["--secret", f"id={sid},src={path}"]
        if run.no_cache:
            argv.append("--no-cache")
        if metadata_file is not None:
            argv += ["--metadata-file", str(metadata_file)]
        if b.output == "local":
            if out_dir is None:
                raise ValueError(f"{self.id}: a local output needs out_dir")
            argv += ["-o", f"type=local,dest={out_dir}"]
        argv += ["-f", str(self.dockerfile), str(self.dir)]
        return argv


def _str_map(raw: Any, what: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"{what}: expected an object of strings")
    return dict(raw)


def load(path: Path) -> Scenario:
    """Read one scenario directory (or its ``scenario.json``)."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    raw = json.loads((directory / "scenario.json").read_text())
    b = raw.get("build", {})
    build = BuildSpec(
        platforms=tuple(b.get("platforms", ())),
        build_args=_str_map(b.get("build_args", {}), "build_args"),
        secrets=_str_map(b.get("secrets", {}), "secrets"),
        allow=tuple(b.get("allow", ())),
        output=b.get("output", "local"),
    )
    runs = tuple(
        Run(
            name=r["name"],
            proxy=tuple(r["proxy"]) if "proxy" in r else None,
            no_cache=bool(r.get("no_cache", False)),
            secrets=_str_map(r.get("secrets", {}), "secrets"),
            build_args=_str_map(r.get("build_args", {}), "build_args"),
        )
        for r in raw.get("runs", [{"name": "default"}])
    )
    expect = tuple(
        Expect(
            rule=e["rule"],
            line=int(e["line"]),
            severity=e["severity"],
            evidence=e["evidence"],
            anchor=e.get("anchor", ""),
            platform=e.get("platform", ""),
        )
        for e in raw.get("expect", [])
    )
    return Scenario(
        id=directory.name,
        dir=directory,
        rule=raw.get("rule", ""),
        clean=bool(raw.get("clean", False)),
        build=build,
        proxy=tuple(raw["proxy"]) if "proxy" in raw else None,
        runs=runs,
        expect=expect,
        notes=raw.get("notes", ""),
    )


def all_scenarios() -> list[Scenario]:
    return [load(p.parent) for p in sorted(ROOT.glob("*/scenario.json"))]
