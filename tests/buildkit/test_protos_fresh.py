"""The generated stubs in cachetrace/_pb are exactly what scripts/gen_protos.py makes now."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _gen_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_protos", REPO / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_protos"] = module
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    gen = _gen_module()
    out = tmp_path / "_pb"
    gen.generate(out)
    fresh, committed = _tree(out), _tree(REPO / "cachetrace" / "_pb")
    assert sorted(fresh) == sorted(committed), "run: .venv/bin/python scripts/gen_protos.py"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated files {stale}; run scripts/gen_protos.py"


def test_generated_imports_are_package_relative() -> None:
    for path in (REPO / "cachetrace" / "_pb").rglob("*_pb2.py*"):
        text = path.read_text()
        assert "\nfrom buildkit " not in text and "\nfrom containerd " not in text, path


@pytest.mark.parametrize(
    ("service", "methods"),
    [
        (
            "moby.buildkit.v1.Control",
            {
                "Status",
                "ListenBuildHistory",
                "UpdateBuildHistory",
                "ListWorkers",
                "Info",
                "DiskUsage",
            },
        ),
        ("containerd.services.content.v1.Content", {"Read", "Info", "List"}),
    ],
)
def test_services_define_the_methods_the_client_calls(service: str, methods: set[str]) -> None:
    from google.protobuf import descriptor_pool

    import cachetrace._pb.buildkit.control_pb2
    import cachetrace._pb.containerd.content_pb2  # noqa: F401

    desc = descriptor_pool.Default().FindServiceByName(service)
    assert {m.name for m in desc.methods} == methods


def test_wire_numbers_match_upstream() -> None:
    """Spot checks of field numbers against moby/buildkit and containerd (the wire contract)."""
    from cachetrace._pb.buildkit import control_pb2, ops_pb2, worker_pb2
    from cachetrace._pb.containerd import content_pb2

    def numbers(msg: type) -> dict[str, int]:
        return {f.name: f.number for f in msg.DESCRIPTOR.fields}  # type: ignore[attr-defined]

    assert numbers(control_pb2.BuildHistoryRecord)["numWarnings"] == 19
    assert numbers(control_pb2.BuildHistoryRecord)["externalError"] == 18
    assert numbers(control_pb2.Descriptor) == {
        "media_type": 1, "digest": 2, "size": 3, "annotations": 5
    }  # fmt: skip
    assert numbers(control_pb2.VertexWarning)["ranges"] == 7
    assert numbers(ops_pb2.Mount)["cacheOpt"] == 20
    assert numbers(ops_pb2.Mount)["contentCache"] == 24
    assert numbers(ops_pb2.Meta)["ulimit"] == 9
    assert numbers(ops_pb2.Op)["platform"] == 10
    assert numbers(worker_pb2.WorkerRecord)["CDIDevices"] == 6
    assert numbers(content_pb2.ReadContentRequest) == {"digest": 1, "offset": 2, "size": 3}
