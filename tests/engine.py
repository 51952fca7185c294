"""The real engine for tests: started by ``scripts/engine.sh`` or given by the environment.

``CACHETRACE_TEST_DOCKER_HOST`` (and optionally ``CACHETRACE_TEST_DOCKER_CONFIG``) point the
tests at a daemon that is already running; otherwise the session fixture runs
``scripts/engine.sh up`` (idempotent) and uses the daemon it started.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENGINE_SH = REPO / "scripts" / "engine.sh"


@dataclass(frozen=True)
class Engine:
    docker_host: str
    docker_config: str
    path: str

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DOCKER_HOST=self.docker_host, DOCKER_CONFIG=self.docker_config, PATH=self.path)
        env.pop("BUILDX_BUILDER", None)
        env.pop("BUILDKIT_HOST", None)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | str | None = None,
        check: bool = True,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 600,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        env = self.env
        if extra_env:
            env.update(extra_env)
        proc = subprocess.run(
            list(args),
            check=False,
            cwd=cwd,
            env=env,
            capture_output=True,
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout.decode(errors='replace')[-3000:]}\n"
                f"stderr: {proc.stderr.decode(errors='replace')[-3000:]}"
            )
        return proc

    def docker(self, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
        return self.run(["docker", *args], **kw)  # type: ignore[arg-type]


def start_engine() -> Engine:
    given = os.environ.get("CACHETRACE_TEST_DOCKER_HOST")
    if given:
        config = os.environ.get(
            "CACHETRACE_TEST_DOCKER_CONFIG", os.environ.get("DOCKER_CONFIG", "")
        )
        return Engine(given, config, os.environ.get("PATH", ""))
    subprocess.run(["bash", str(ENGINE_SH), "up"], check=True, timeout=1800)
    out = subprocess.run(
        ["bash", str(ENGINE_SH), "env"], check=True, capture_output=True, text=True
    ).stdout
    values: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value
    path = values["PATH"].replace("$PATH", os.environ.get("PATH", ""))
    return Engine(values["DOCKER_HOST"], values["DOCKER_CONFIG"], path)
