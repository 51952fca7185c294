"""Every scenario really builds on the engine and really does what its scenario.json claims.

Only docker/buildx and the output files are used (the analyser is not needed): ``file`` and a
small ELF header reader for machine and PT_INTERP, ``go version -m`` run in ``golang:local``
for Go build info. Each scenario is built once per session (all its runs, in order).
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine import Engine
from tests.scenarios.runner import RunResult, build_scenario
from tests.scenarios.spec import PAYLOAD, ROOT, Scenario, load

pytestmark = pytest.mark.engine

EM_X86_64, EM_AARCH64 = 62, 183
MACHINE = {"linux/amd64": EM_X86_64, "linux/arm64": EM_AARCH64}


@dataclass(frozen=True)
class Elf:
    machine: int
    interpreter: str | None


def read_elf(path: Path) -> Elf:
    """e_machine and PT_INTERP of a little-endian ELF64 file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path}: not ELF64 LE"
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff = struct.unpack_from("<Q", data, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    interp = None
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == 3:  # PT_INTERP
            interp = data[p_offset : p_offset + p_filesz].rstrip(b"\0").decode()
    return Elf(machine, interp)


def file_says(path: Path) -> str:
    if shutil.which("file") is None:
        pytest.skip("file(1) is not installed")
    return subprocess.run(
        ["file", "-b", str(path)], check=False, capture_output=True, text=True
    ).stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class GoInfo:
    mod: tuple[str, ...]
    deps: dict[str, str]
    settings: dict[str, str]


class Built:
    """One scenario's finished runs, with helpers to look at their outputs."""

    def __init__(self, engine: Engine, scenario: Scenario, results: list[RunResult]) -> None:
        self.engine = engine
        self.scenario = scenario
        self.results = {r.run: r for r in results}

    def out(self, run: str = "default", platform: str = "") -> Path:
        base = self.results[run].out_dir
        return base / platform.replace("/", "_") if platform else base

    def go_info(self, path: Path) -> GoInfo:
        root = self.results[next(iter(self.results))].out_dir.parent
        rel = path.relative_to(root)
        text = self.engine.docker(
            "run", "--rm", "-v", f"{root}:/x:ro", "golang:local", "go", "version", "-m", f"/x/{rel}"
        ).stdout.decode()
        mod: tuple[str, ...] = ()
        deps: dict[str, str] = {}
        settings: dict[str, str] = {}
        for line in text.splitlines()[1:]:
            f = line.strip().split("\t")
            if f[0] == "mod":
                mod = tuple(f[1:])
            elif f[0] == "dep":
                deps[f[1]] = f[2]
            elif f[0] == "build":
                key, _, value = f[1].partition("=")
                settings[key] = value
        return GoInfo(mod, deps, settings)


@pytest.fixture(scope="module")
def built(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Built]]:
    cache: dict[str, Built] = {}
    root = tmp_path_factory.mktemp("scenarios")

    def get(scenario_id: str) -> Built:
        if scenario_id not in cache:
            scenario = load(ROOT / scenario_id)
            results = build_scenario(scenario, root / scenario_id, env=engine.env)
            for r in results:
                assert r.returncode == 0, f"{scenario_id}/{r.run} failed:\n{r.log[-4000:]}"
            cache[scenario_id] = Built(engine, scenario, results)
        return cache[scenario_id]

    yield get


def test_wrong_arch_output(built: Callable[[str], Built]) -> None:
    b = built("wrong-arch-output")
    busybox = b.out() / "bin" / "busybox"  # single platform: linux/arm64, output at the root
    assert read_elf(busybox).machine == EM_X86_64
    assert "x86-64" in file_says(busybox)


def test_platform_collapse(built: Callable[[str], Built]) -> None:
    b = built("platform-collapse")
    amd, arm = b.out(platform="linux/amd64") / "hello", b.out(platform="linux/arm64") / "hello"
    assert sha256(amd) == sha256(arm)  # one step result shared by both platforms
    assert read_elf(arm).machine == EM_X86_64
    assert "x86-64" in file_says(arm)
    assert b.go_info(arm).settings["GOARCH"] == "amd64"


def test_platform_collapse_hardcoded(built: Callable[[str], Built]) -> None:
    b = built("platform-collapse-hardcoded")
    amd, arm = b.out(platform="linux/amd64") / "hello", b.out(platform="linux/arm64") / "hello"
    assert sha256(amd) == sha256(arm)
    assert read_elf(arm).machine == EM_X86_64
    assert b.go_info(arm).settings["GOARCH"] == "amd64"


def test_env_export_scope(built: Callable[[str], Built]) -> None:
    b = built("env-export-scope")
    info = b.go_info(b.out() / "hello")
    assert info.settings["GOARCH"] == "amd64"  # not the exported arm64
    assert "-trimpath" not in info.settings  # not the prefixed GOFLAGS=-trimpath
    assert read_elf(b.out() / "hello").machine == EM_X86_64


def test_proxy_args_outside_key(built: Callable[[str], Built]) -> None:
    b = built("proxy-args-outside-key")
    # The fetch worked despite the unresolvable proxy (Go skips proxies for loopback) and
    # go.sum held the version at v1.0.0 while the proxy also served v1.1.0.
    assert b.go_info(b.out() / "hello").deps == {"example.com/greet": "v1.0.0"}
    assert b"s3cret" not in (b.out() / "hello").read_bytes()


def test_network_fetch_unpinned_drifts_under_one_key(built: Callable[[str], Built]) -> None:
    b = built("network-fetch-unpinned")
    first, cached, fresh = b.out("v1.0.0"), b.out("v1.1.0-cached"), b.out("v1.1.0")
    assert b.go_info(first / "greet").mod[:2] == ("example.com/greet", "v1.0.0")
    assert b.go_info(first / "hello").deps == {"example.com/greet": "v1.0.0"}
    assert (first / "greet-versions.txt").read_text() == "v1.0.0\n"
    # The proxy moved on; the keys did not: a cache hit ships the old result.
    for name in ("greet", "hello", "greet-versions.txt"):
        assert sha256(cached / name) == sha256(first / name)
    # The same keys without the cache give the new versions.
    assert b.go_info(fresh / "greet").mod[:2] == ("example.com/greet", "v1.1.0")
    assert b.go_info(fresh / "hello").deps == {"example.com/greet": "v1.1.0"}
    assert (fresh / "greet-versions.txt").read_text() == "v1.0.0\nv1.1.0\n"


def test_cache_mount_gomodcache_drift(built: Callable[[str], Built], tmp_path: Path) -> None:
    b = built("cache-mount-gomodcache")
    assert b.go_info(b.out("v1.0.0") / "hello").deps == {"example.com/greet": "v1.0.0"}
    assert b.go_info(b.out("v1.1.0") / "hello").deps == {"example.com/greet": "v1.1.0"}
    # What the step fetched is in the mount (no layer has it): list it with a probe build.
    # The --no-cache run got a fresh mount, which then replaced the old one for the id.
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "ARG NONCE\n"
        "RUN --mount=type=cache,id=ct-gomod,target=/m mkdir -p /out && "
        "ls /m/cache/download/example.com/greet/@v/ > /out/versions\n"
    )
    b.engine.docker(
        "buildx", "build", "--build-arg", f"NONCE={tmp_path.name}",
        "-o", f"type=local,dest={tmp_path / 'probe'}", str(tmp_path),
    )  # fmt: skip
    assert "v1.1.0.zip" in (tmp_path / "probe" / "out" / "versions").read_text().split()


def test_cache_mount_cross_platform(built: Callable[[str], Built]) -> None:
    b = built("cache-mount-cross-platform")
    amd, arm = b.out(platform="linux/amd64") / "hello", b.out(platform="linux/arm64") / "hello"
    assert sha256(amd) == sha256(arm)
    machine = read_elf(amd).machine
    assert machine in (EM_X86_64, EM_AARCH64)
    # One of the two platforms holds the other one's binary.
    assert machine != MACHINE["linux/amd64"] or machine != MACHINE["linux/arm64"]


def test_cache_mount_shared_writers(built: Callable[[str], Built]) -> None:
    b = built("cache-mount-shared-writers")
    amd, arm = b.out(platform="linux/amd64"), b.out(platform="linux/arm64")
    for out in (amd, arm):  # both steps were in the mount at the same time
        assert {"ready-amd64", "ready-arm64"} <= set((out / "seen").read_text().split())
    states = {(amd / "state").read_text().strip(), (arm / "state").read_text().strip()}
    assert len(states) == 1 and states <= {"amd64", "arm64"}  # one read the other's write


def test_host_context_mount_hides_writes(built: Callable[[str], Built]) -> None:
    b = built("host-context-mount")
    assert read_elf(b.out() / "hello").machine == EM_X86_64
    gocache = b.scenario.dir / ".gocache"
    assert sorted(p.name for p in gocache.iterdir()) == [".keep"]


def test_secret_outside_key(built: Callable[[str], Built]) -> None:
    b = built("secret-outside-key")
    runs = {r.name: r for r in b.scenario.runs}
    token_a, token_b = runs["token-a"].secrets["tok"], runs["token-b"].secrets["tok"]

    def digest(run: str) -> str:
        return (b.out(run) / "tok.sha256").read_text().strip()

    assert digest("token-a") == hashlib.sha256(token_a.encode()).hexdigest()
    assert digest("token-b-cached") == digest("token-a")  # new secret, same key, old result
    assert digest("token-b") == hashlib.sha256(token_b.encode()).hexdigest()
    for run in runs:
        for f in b.out(run).rglob("*"):
            if f.is_file():
                assert b"ghp_" not in f.read_bytes()


def test_missing_interpreter_fails_at_run_time(built: Callable[[str], Built]) -> None:
    b = built("missing-interpreter")
    hello = b.out() / "hello"
    elf = read_elf(hello)
    assert elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert "dynamically linked" in file_says(hello)
    assert not (b.out() / "lib64").exists()
    assert b.go_info(hello).settings["-buildmode"] == "pie"
    tag = "ct-scenario-missing-interpreter:test"
    b.engine.docker("buildx", "build", "-q", "--load", "-t", tag, str(b.scenario.dir))
    try:
        proc = b.engine.docker("run", "--rm", tag, check=False)
        assert proc.returncode != 0
        assert b"no such file or directory" in proc.stderr + proc.stdout
    finally:
        b.engine.docker("image", "rm", "-f", tag, check=False)


def test_clean_go_multiarch(built: Callable[[str], Built]) -> None:
    b = built("clean-go-multiarch")
    for platform, machine in MACHINE.items():
        hello = b.out(platform=platform) / "hello"
        assert read_elf(hello).machine == machine
        info = b.go_info(hello)
        assert info.settings["GOARCH"] == platform.split("/")[1]
        assert info.deps == {"example.com/greet": "v1.0.0"}  # pinned though v1.1.0 is served
    assert "aarch64" in file_says(b.out(platform="linux/arm64") / "hello")


def test_clean_busybox(built: Callable[[str], Built]) -> None:
    b = built("clean-busybox")
    greeting = (b.out() / "app" / "greeting.txt").read_bytes()
    assert (b.out() / "app" / "greeting.sha256").read_text().split()[0] == (
        hashlib.sha256(greeting).hexdigest()
    )


def test_clean_secret_pinned_fetch(built: Callable[[str], Built]) -> None:
    b = built("clean-secret-pinned-fetch")
    assert (b.out() / "payload.txt").read_text() == PAYLOAD
    assert b"ghp_" not in (b.out() / "payload.txt").read_bytes()
