"""Exec cache keys recomputed from recorded provenance, checked against the recorded exports."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cachetrace.buildkit.provenance import decode_provenance
from cachetrace.errors import GraphError
from cachetrace.graph.exec_key import (
    _go_path_join_root,
    exec_cache_digest,
    exec_cache_payload,
    exec_input_deps,
    exec_of,
    normalized_exec,
    record_digest,
    unknown_exec_fields,
)
from cachetrace.model.llb import OpKind
from tests.graph.keyfixtures import exec_steps, fixtures, load, match, step_op

FIXTURES = list(fixtures())


def test_fixtures_are_there() -> None:
    names = {name for name, _, _ in FIXTURES}
    assert {
        "v0.25/features/linux-amd64",
        "v0.25/secretenv/linux-amd64",
        "v0.25/multi/linux-arm64",
        "v0.25/gobuild/linux-amd64",
        "v0.13/features/linux-amd64",
        "v0.13/multi/linux-arm64",
    } <= names


@pytest.mark.parametrize(("name", "provenance", "config"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_every_exec_step_matches_an_exported_record(
    name: str, provenance: Path, config: Path
) -> None:
    report = match(load(provenance), load(config))
    assert report.steps > 0
    assert report.unmatched == (), f"{name}: {report}"


def test_selector_proxy_env_and_host_ip_are_cleared() -> None:
    op = step_op("features", "/ctx/hello.txt")
    raw_mounts = op["Op"]["exec"]["mounts"]
    assert raw_mounts[1]["selector"] == "/hello.txt"
    assert "proxy_env" in op["Op"]["exec"]["meta"]
    norm = normalized_exec(op)
    assert "selector" not in norm["mounts"][1]
    assert norm["mounts"][1] == {
        "input": 1,
        "dest": "/ctx/hello.txt",
        "output": -1,
        "readonly": True,
    }
    assert "proxy_env" not in norm["meta"]
    assert norm["meta"]["extraHosts"] == [{"Host": "fixture-host"}]
    assert norm["meta"]["ulimit"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]


def test_lone_root_mount_is_dropped_but_not_with_other_mounts() -> None:
    assert "mounts" not in normalized_exec(step_op("features", "/app/greet"))
    assert len(normalized_exec(step_op("features", "/root/.cache/x"))["mounts"]) == 2


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("/root/.cache/x", {"ID": "//root/.cache"}),  # Dockerfile default: kept
        ("/var/cache/a/x", {}),  # explicit id, sharing=locked: cleared
        ("/var/cache/b/x", {}),  # default id but sharing=private: cleared
        ("/home/u/.cache", {"ID": "//home/u/.cache"}),  # uid/gid: an input, id kept
    ],
)
def test_cache_mount_options_as_buildkit_keeps_them(
    predicate: str, expected: dict[str, Any]
) -> None:
    norm = normalized_exec(step_op("features", predicate))
    cache_mounts = [m for m in norm["mounts"] if m.get("mountType") == 3]
    assert [m["cacheOpt"] for m in cache_mounts] == [expected]


def _exec(mounts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "Op": {"exec": {"meta": {"args": ["true"], "cwd": "/"}, "mounts": mounts, **extra}},
        "platform": {"Architecture": "amd64", "OS": "linux"},
    }


@pytest.mark.parametrize(
    ("cache_id", "sharing", "kept"),
    [
        ("/c", 0, True),  # ID equal to the target
        ("ns//c", 0, True),  # cache namespace "ns" + target
        ("ns/c", 0, False),  # not <namespace>/<target>
        ("//c", 2, False),  # default id, locked sharing
        ("other", 0, False),
    ],
)
def test_cache_id_rule(cache_id: str, sharing: int, kept: bool) -> None:
    cache = {"input": -1, "dest": "/c", "output": -1, "mountType": 3}
    cache["cacheOpt"] = {"ID": cache_id, "sharing": sharing}
    norm = normalized_exec(_exec([{"dest": "/"}, cache]))
    expected = {"ID": cache_id, "sharing": sharing} if kept else {}
    assert norm["mounts"][1]["cacheOpt"] == {k: v for k, v in expected.items() if v}


def test_gogo_era_zero_input_and_output_are_kept_when_given() -> None:
    # BuildKit < v0.17 writes "input":0 and "output":0 (no omitempty) in provenance and key.
    old = normalized_exec(_exec([{"input": 0, "dest": "/", "output": 0}, {"dest": "/x"}]))
    assert old["mounts"] == [{"input": 0, "dest": "/", "output": 0}, {"dest": "/x"}]
    new = normalized_exec(_exec([{"dest": "/"}, {"dest": "/x"}]))
    assert new["mounts"] == [{"dest": "/"}, {"dest": "/x"}]


def test_a_readonly_or_cache_root_is_not_dropped() -> None:
    assert "mounts" in normalized_exec(_exec([{"dest": "/", "readonly": True}]))
    assert "mounts" not in normalized_exec(_exec([{"dest": "/", "selector": "/sub"}]))
    assert "mounts" not in normalized_exec(_exec([{"input": 0, "dest": "/", "output": 0}]))


def test_zero_values_are_omitted_and_field_order_is_go_struct_order() -> None:
    op = _exec(
        [
            {"mountType": 0, "dest": "/", "selector": "", "readonly": False},
            {"dest": "/x", "input": 1},
        ],
        network=0,
        security=1,
    )
    op["Op"]["exec"]["meta"] = {"cwd": "/w", "user": "", "args": ["a"], "env": []}
    norm = normalized_exec(op)
    assert list(norm) == ["meta", "mounts", "security"]
    assert norm["meta"] == {"args": ["a"], "cwd": "/w"}
    assert list(norm["meta"]) == ["args", "cwd"]
    assert norm["mounts"] == [{"dest": "/"}, {"input": 1, "dest": "/x"}]


def test_payload_wraps_exec_with_platform_like_buildkit() -> None:
    op = step_op("variant", "running for", platform="linux-amd64-v3")
    payload = exec_cache_payload(op)
    assert payload.startswith(b'{"Type":"buildkit.exec.v0","Exec":{"meta":{"args":[')
    assert payload.endswith(b'},"OS":"linux","Arch":"amd64","Variant":"v3"}')
    assert exec_cache_digest(op) == "sha256:" + hashlib.sha256(payload).hexdigest()


def test_platform_argument_overrides_and_default_platform_fills_in() -> None:
    op = step_op("multi", "built on")
    amd64 = exec_cache_digest(op)
    arm64 = exec_cache_digest(op, {"OS": "linux", "Architecture": "arm64"})
    assert amd64 != arm64
    bare = copy.deepcopy(dict(op))
    del bare["platform"]
    with pytest.raises(GraphError, match="no platform"):
        exec_cache_digest(bare)
    assert (
        exec_cache_digest(bare, default_platform={"os": "linux", "architecture": "amd64"}) == amd64
    )
    # The bare ExecOp gives the same key as the pb.Op around it.
    assert exec_cache_digest(exec_of(op), op["platform"]) == amd64


def test_record_digest_is_sha256_of_digest_at_output() -> None:
    digest = "sha256:" + "ab" * 32
    expected = hashlib.sha256(f"{digest}@1".encode()).hexdigest()
    assert record_digest(digest, 1) == f"sha256:{expected}"
    assert record_digest(digest, 0) != record_digest(digest, 1)
    with pytest.raises(GraphError):
        record_digest("random:" + "ab" * 32, 0)


def test_unknown_fields_are_kept_last_and_reported() -> None:
    op = _exec([{"dest": "/"}])
    op["Op"]["exec"]["futureField"] = {"x": 1}
    op["Op"]["exec"]["meta"]["newMeta"] = "v"
    assert unknown_exec_fields(op) == ("exec.meta.newMeta", "exec.futureField")
    assert exec_cache_payload(op).endswith(b'"futureField":{"x":1}},"OS":"linux","Arch":"amd64"}')
    assert unknown_exec_fields(step_op("features", "/app/greet")) == ()


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"Op": {"source": {"identifier": "local://context"}}}, "not an exec"),
        ({"Op": {"exec": {"meta": {"args": "sh"}}}}, r"exec.meta.args is not a list"),
        ({"Op": {"exec": {"mounts": [{"dest": 3}]}}}, r"exec.mounts\[0\].dest is not a string"),
        ({"Op": {"exec": {"network": True}}}, "exec.network is not an integer"),
        ({"nothing": 1}, "neither"),
    ],
)
def test_bad_ops_give_one_line_errors(op: Mapping[str, Any], message: str) -> None:
    with pytest.raises(GraphError, match=message) as info:
        exec_cache_digest(op, {"OS": "linux", "Architecture": "amd64"})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "provenance", "config"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_keys_from_the_provenance_decoder_steps(name: str, provenance: Path, config: Path) -> None:
    """``Op.raw`` and ``Op.platform`` of decoded steps give the same, exported, keys."""
    decoded = decode_provenance(provenance.read_bytes())
    exported = {record["digest"] for record in load(config)["records"]}
    steps = [s for s in decoded.steps if s.op.kind is OpKind.EXEC]
    assert steps
    for step in steps:
        digest = exec_cache_digest(step.op.raw, step.op.platform)
        assert record_digest(digest, 0) in exported, f"{name} {step.id}"


def test_go_path_join_root() -> None:
    assert _go_path_join_root("") == "/"
    assert _go_path_join_root("/") == "/"
    assert _go_path_join_root("data/") == "/data"
    assert _go_path_join_root("//a/./b/../c") == "/a/c"
    assert _go_path_join_root("../../x") == "/x"


def test_input_selectors_and_content_keys_match_the_record_links() -> None:
    """Each exec input's links carry the selector BuildKit computes (sha256 of the mounted
    paths joined by NUL) plus an empty-selector content key when the input is content-based;
    inputs from local sources (never exported) keep only the content key."""
    checked = 0
    for name, provenance_path, config_path in FIXTURES:
        provenance, config = load(provenance_path), load(config_path)
        modern = name.startswith("v0.25/")  # v0.13 still counted secret/ssh/tmpfs mounts
        records = {r["digest"]: r for r in config["records"]}
        steps = {s["id"]: s for s in provenance["buildConfig"]["llbDefinition"]}
        for step in exec_steps(provenance):
            record = records[record_digest(exec_cache_digest(step.op), 0)]
            inputs = steps[step.id].get("inputs", [])
            deps = exec_input_deps(step.op, len(inputs), skip_session_mounts=modern)
            for i, dep in enumerate(deps):
                got = {link.get("selector", "") for link in record["inputs"][i]}
                want = {dep.selector} | ({""} if dep.content_based else set())
                source = (steps[inputs[i].split(":")[0]]["op"].get("Op") or {}).get("source", {})
                if source.get("identifier", "").startswith("local://"):
                    assert got == {""} and dep.content_based, step.id
                else:
                    assert got == want, step.id
                checked += 1
    assert checked > 40


def test_input_deps_rules() -> None:
    op = _exec(
        [
            {"dest": "/"},
            {"input": 1, "selector": "/src", "dest": "/a", "output": -1},
            {"input": 1, "selector": "/lib", "dest": "/b", "output": 1},
            {"input": 2, "dest": "/c", "output": 2, "contentCache": 2, "readonly": True},
            {"input": -1, "dest": "/run/secrets/x", "mountType": 1},
        ]
    )
    root, two, three = exec_input_deps(op)
    assert root.paths == ("/",) and not root.content_based
    assert root.selector == "sha256:" + hashlib.sha256(b"/").hexdigest()
    assert two.paths == ("/src", "/lib")
    assert two.selector == "sha256:" + hashlib.sha256(b"/src\0/lib").hexdigest()
    assert not two.content_based  # the last mount of the input (rw, with an output) decides
    assert three.paths == ("/",) and not three.content_based  # contentCache OFF
    assert len(exec_input_deps(op, 4)) == 4
    with pytest.raises(GraphError, match="uses input 2 of 2"):
        exec_input_deps(op, 2)
    secret_on_root = _exec([{"input": 0, "dest": "/", "output": 0}, {"dest": "/s", "mountType": 1}])
    assert exec_input_deps(secret_on_root)[0].paths == ("/",)
    old = exec_input_deps(secret_on_root, skip_session_mounts=False)[0]
    assert old.paths == ("/", "/") and old.content_based
    assert old.selector == "sha256:" + hashlib.sha256(b"/\0/").hexdigest()
