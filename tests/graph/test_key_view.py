"""Key views of the recorded exec steps: what enters the key, what stays outside, diffs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cachetrace.graph.key_view import (
    ChangeKind,
    KeyChange,
    KeyView,
    OutsideInput,
    OutsideKind,
    diff_key_views,
    key_view,
)
from cachetrace.model.oci import Platform
from tests.graph.keyfixtures import KEYS, exec_steps, load, record_digests, step_op


def view(scenario: str, predicate: str, platform: str = "linux-amd64") -> KeyView:
    return key_view(step_op(scenario, predicate, platform))


def values(v: KeyView) -> dict[str, Any]:
    return {f.path: f.value for f in v.fields}


def test_go_build_step() -> None:
    v = view("gobuild", "go build")
    fields = values(v)
    assert fields["platform.OS"] == "linux"
    assert fields["platform.Arch"] == "amd64"
    assert fields["meta.env[GOOS]"] == "GOOS=linux"
    assert fields["meta.cwd"] == "/src"
    assert fields["mounts(order)"] == ["/", "/root/.cache/go-build", "/root/go/pkg/mod"]
    assert fields["mounts[/root/go/pkg/mod].cacheOpt.ID"] == "//root/go/pkg/mod"
    assert fields["network"] == 0
    assert v.outside_of(OutsideKind.CACHE_MOUNT) == (
        OutsideInput(OutsideKind.CACHE_MOUNT, "//root/.cache/go-build", "/root/.cache/go-build"),
        OutsideInput(OutsideKind.CACHE_MOUNT, "//root/go/pkg/mod", "/root/go/pkg/mod"),
    )
    assert v.outside_of(OutsideKind.CACHE_ID) == ()  # default ids stay in the key
    assert v.unknown_fields == ()


def test_record_digests_are_the_exported_ones() -> None:
    for scenario in ("features", "gobuild"):
        provenance = load(KEYS / scenario / "provenance-linux-amd64.json")
        exported = record_digests(load(KEYS / scenario / "cacheconfig.json"))
        for step in exec_steps(provenance):
            v = key_view(step.op)
            assert len(v.record_digests) == 1, step.id  # one output: the root mount
            assert v.record_digests[0] in exported, step.id


def test_cleared_cache_id_is_outside_the_key() -> None:
    v = view("features", "/var/cache/b/x")  # sharing=private
    assert values(v)["mounts[/var/cache/b].cacheOpt"] == {}
    assert v.outside_of(OutsideKind.CACHE_ID) == (
        OutsideInput(OutsideKind.CACHE_ID, "//var/cache/b", "/var/cache/b"),
    )


def test_secrets_ssh_tmpfs_and_selectors_are_outside() -> None:
    secret = view("features", "wc -c /run/secrets/tok")
    assert values(secret)["mounts[/run/secrets/tok].secretOpt.ID"] == "tok"
    assert secret.outside_of(OutsideKind.SECRET_MOUNT) == (
        OutsideInput(OutsideKind.SECRET_MOUNT, "tok", "/run/secrets/tok"),
    )
    secret_env = view("secretenv", "TOK")
    assert values(secret_env)["secretenv[TOK].ID"] == "tok"
    assert secret_env.outside_of(OutsideKind.SECRET_ENV) == (
        OutsideInput(OutsideKind.SECRET_ENV, "tok", "TOK"),
    )
    ssh = view("features", "SSH_AUTH_SOCK")
    assert ssh.outside_of(OutsideKind.SSH_MOUNT)[0].name == "default"
    tmpfs = view("features", "/scratch/x")
    assert values(tmpfs)["mounts[/scratch].TmpfsOpt"] == {}
    assert tmpfs.outside_of(OutsideKind.TMPFS_MOUNT) == (
        OutsideInput(OutsideKind.TMPFS_MOUNT, "", "/scratch"),
    )
    bind = view("features", "/h/h.txt")
    assert bind.outside_of(OutsideKind.SELECTOR) == (
        OutsideInput(OutsideKind.SELECTOR, "/data", "/h"),
    )
    assert not any("selector" in f.path for f in bind.fields)
    assert values(bind)["mounts[/h].readonly"] is True


def test_proxy_values_never_appear_only_names() -> None:
    v = view("features", "proxy is")
    assert {o.name for o in v.outside_of(OutsideKind.PROXY_ENV)} == {"http_proxy", "no_proxy"}
    assert "proxy.invalid" not in repr(v)
    assert not any("proxy" in f.path for f in v.fields)


@pytest.mark.parametrize(
    ("predicate", "network", "access"),
    [("offline", 2, ()), ("/app/hostnet", 1, ("host",)), ("/app/greet", 0, ("sandbox",))],
)
def test_network_mode_is_a_key_field_and_access_is_outside(
    predicate: str, network: int, access: tuple[str, ...]
) -> None:
    v = view("features", predicate)
    assert values(v)["network"] == network
    assert tuple(o.name for o in v.outside_of(OutsideKind.NETWORK_ACCESS)) == access


def test_extra_host_name_in_key_ip_outside() -> None:
    v = view("features", "fixture-host")
    assert values(v)["meta.extraHosts(order)"] == ["fixture-host"]
    assert "10.1.2.3" not in repr(v.fields)
    assert v.outside_of(OutsideKind.HOST_IP) == (
        OutsideInput(OutsideKind.HOST_IP, "fixture-host", ""),
    )


def test_variant_is_a_key_field() -> None:
    v = view("variant", "running for", platform="linux-amd64-v3")
    assert values(v)["platform.Variant"] == "v3"


def test_model_platform_and_oci_spelling_give_the_same_key() -> None:
    op = step_op("variant", "running for", platform="linux-amd64-v3")
    as_model = key_view(op, Platform("linux", "amd64", "v3"))
    as_oci = key_view(op, {"os": "linux", "architecture": "amd64", "variant": "v3"})
    assert as_model == as_oci == key_view(op)
    assert key_view(op, Platform("linux", "amd64")).cache_digest != as_model.cache_digest


def test_secret_looking_env_values_are_redactable() -> None:
    op = copy.deepcopy(dict(step_op("gobuild", "go build")))
    op["Op"]["exec"]["meta"]["env"].append("API_TOKEN=hunter2")
    v = key_view(op)
    assert values(v)["meta.env[API_TOKEN]"] == "API_TOKEN=hunter2"
    redact = pytest.importorskip("cachetrace.capture_io.redact")
    assert "hunter2" not in repr(redact.redact_tree([f.value for f in v.fields]))


def test_field_paths_are_unique() -> None:
    for step in exec_steps(load(KEYS / "features" / "provenance-linux-amd64.json")):
        paths = [f.path for f in key_view(step.op).fields]
        assert len(paths) == len(set(paths)), step.id


def test_diff_of_the_two_platforms_of_one_step() -> None:
    amd64 = view("multi", "built on", "linux-amd64")
    arm64 = view("multi", "built on", "linux-arm64")
    assert diff_key_views(amd64, arm64) == (
        KeyChange(
            "meta.env[TARGETARCH]", ChangeKind.CHANGED, "TARGETARCH=amd64", "TARGETARCH=arm64"
        ),
    )
    # The per-arch cache id is not in the key: only the env difference separates the keys.
    cache_amd64 = view("multi", "/cache/a", "linux-amd64")
    cache_arm64 = view("multi", "/cache/a", "linux-arm64")
    assert [c.path for c in diff_key_views(cache_amd64, cache_arm64)] == ["meta.env[TARGETARCH]"]
    assert cache_amd64.outside_of(OutsideKind.CACHE_ID)[0].name == "/multi-amd64"
    assert cache_arm64.outside_of(OutsideKind.CACHE_ID)[0].name == "/multi-arm64"


def test_diff_names_env_changes_additions_and_removals() -> None:
    op = step_op("gobuild", "go build")
    changed = copy.deepcopy(dict(op))
    env = changed["Op"]["exec"]["meta"]["env"]
    env[env.index("GOOS=linux")] = "GOOS=windows"
    env.append("GOPROXY=file:///proxy")
    changed["Op"]["exec"]["network"] = 2
    a, b = key_view(op), key_view(changed)
    assert a.cache_digest != b.cache_digest
    order_a, order_b = values(a)["meta.env(order)"], values(b)["meta.env(order)"]
    assert diff_key_views(a, b) == (
        KeyChange("meta.env(order)", ChangeKind.CHANGED, order_a, order_b),
        KeyChange("meta.env[GOOS]", ChangeKind.CHANGED, "GOOS=linux", "GOOS=windows"),
        KeyChange("network", ChangeKind.CHANGED, 0, 2),
        KeyChange("meta.env[GOPROXY]", ChangeKind.ADDED, None, "GOPROXY=file:///proxy"),
    )
    assert diff_key_views(a, key_view(op)) == ()


def test_proxy_change_alone_leaves_the_key_unchanged() -> None:
    op = step_op("features", "proxy is")
    changed = copy.deepcopy(dict(op))
    changed["Op"]["exec"]["meta"]["proxy_env"] = {"https_proxy": "http://other.invalid"}
    a, b = key_view(op), key_view(changed)
    assert diff_key_views(a, b) == ()
    assert a.cache_digest == b.cache_digest
    assert [o.name for o in b.outside_of(OutsideKind.PROXY_ENV)] == ["https_proxy"]


def test_round_trips_through_the_capture_codec() -> None:
    codec = pytest.importorskip("cachetrace.capture_io.codec")
    v = view("features", "/var/cache/b/x")
    assert codec.from_jsonable(KeyView, codec.to_jsonable(v)) == v
