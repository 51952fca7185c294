from __future__ import annotations

from pathlib import Path

import pytest

from cachetrace.errors import UsageError
from cachetrace.model.capture import CommandKind
from cachetrace.record.argv import prepare, with_bake_targets

W = Path("/tmp/ctwork")
CWD = Path("/src/app")


def test_buildx_build_gets_metadata_and_cache_export() -> None:
    cmd = prepare(["docker", "buildx", "build", "-t", "x:1", "."], W, cwd=CWD)
    assert cmd.kind is CommandKind.BUILDX_BUILD
    assert cmd.run_argv == (
        "docker",
        "buildx",
        "build",
        "--metadata-file",
        "/tmp/ctwork/metadata.json",
        "--cache-to",
        "type=local,dest=/tmp/ctwork/cache,mode=max",
        "-t",
        "x:1",
        ".",
    )
    assert cmd.metadata_file == W / "metadata.json"
    assert cmd.cache_dirs == (W / "cache",)


def test_user_flags_are_kept_and_read() -> None:
    argv = [
        "docker",
        "--context",
        "ci",
        "buildx",
        "--builder",
        "bk",
        "build",
        "--metadata-file=m.json",
        "--cache-to",
        "type=registry,ref=r/x:cache",
        "--cache-to",
        "type=local,dest=cache-dir",
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        "type=local,dest=out",
        ".",
    ]
    cmd = prepare(argv, W, cwd=CWD)
    assert cmd.run_argv == tuple(argv)  # nothing to add: both are the user's
    assert cmd.added_flags == ()
    assert cmd.metadata_file == CWD / "m.json"
    assert cmd.cache_dirs == (CWD / "cache-dir",)
    assert cmd.builder == "bk"
    assert cmd.docker_context == "ci"
    assert cmd.platforms == ("linux/amd64", "linux/arm64")
    assert [(o.type, o.dest) for o in cmd.outputs] == [("local", str(CWD / "out"))]


def test_registry_cache_to_alone_still_gets_ours() -> None:
    cmd = prepare(["docker", "buildx", "build", "--cache-to=type=registry,ref=r/x", "."], W)
    assert "--cache-to" in cmd.added_flags
    assert "--cache-to=type=registry,ref=r/x" in cmd.run_argv


def test_no_cache_export() -> None:
    cmd = prepare(["docker", "build", "."], W, cache_export=False)
    assert cmd.kind is CommandKind.DOCKER_BUILD
    assert cmd.cache_dirs == ()
    assert cmd.cache_export_note and "--no-cache-export" in cmd.cache_export_note
    assert "--cache-to" not in cmd.run_argv


def test_output_shorthands() -> None:
    cmd = prepare(["docker", "buildx", "build", "-o", "dist", "--output=-", "."], W, cwd=CWD)
    assert [(o.type, o.dest) for o in cmd.outputs] == [("local", str(CWD / "dist")), ("tar", "-")]


def test_bake_targets_get_one_export_each() -> None:
    cmd = prepare(["docker", "buildx", "bake", "-f", "bake.hcl", "app"], W)
    assert cmd.kind is CommandKind.BAKE
    cmd = with_bake_targets(
        cmd,
        {"app": {"cache-to": []}, "tool": {"cache-to": ["type=local,dest=/keep"]}},
        W,
        cache_export=True,
    )
    assert cmd.bake_targets == ("app", "tool")
    assert cmd.cache_dirs == (W / "cache" / "app", Path("/keep"))
    assert cmd.run_argv == (
        "docker",
        "buildx",
        "bake",
        "--metadata-file",
        "/tmp/ctwork/metadata.json",
        "--set",
        "app.cache-to+=type=local,dest=/tmp/ctwork/cache/app,mode=max",
        "--allow=fs.write=/tmp/ctwork",
        "-f",
        "bake.hcl",
        "app",
    )


def test_buildctl() -> None:
    cmd = prepare(
        [
            "buildctl",
            "--addr",
            "tcp://bk:1234",
            "build",
            "--frontend",
            "dockerfile.v0",
            "--local",
            "context=.",
        ],
        W,
    )
    assert cmd.kind is CommandKind.BUILDCTL
    assert cmd.addr == "tcp://bk:1234"
    assert "--export-cache" in cmd.added_flags


@pytest.mark.parametrize(
    "argv",
    [[], ["make"], ["docker", "run", "x"], ["docker", "buildx", "ls"], ["buildctl", "du"]],
)
def test_not_a_build(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        prepare(argv, W)
