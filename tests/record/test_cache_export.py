"""Reading cache exports: recorded ones rebuilt as OCI layouts, broken ones, and a fresh one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cachetrace.errors import RecordError
from cachetrace.graph.exec_key import exec_cache_digest, record_digest
from cachetrace.model.cache import CacheExport
from cachetrace.record.cache_export import blob_path, parse_go_time, read_cache_export
from tests.engine import Engine
from tests.graph.keyfixtures import KEYS, KEYS_V013, exec_steps, load

METADATA = "https://mobyproject.org/buildkit@v1#metadata"


def _write_blob(directory: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(directory, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def layout_from_fixture(scenario: str, directory: Path, root: Path = KEYS) -> Path:
    """The recorded index, manifest and config of ``scenario`` as an OCI layout (no layers)."""
    fixture = root / scenario
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (directory / "index.json").write_bytes((fixture / "index.json").read_bytes())
    _write_blob(directory, (fixture / "manifest.json").read_bytes())
    _write_blob(directory, (fixture / "cacheconfig.json").read_bytes())
    return directory


def _layers_by_step(provenance: dict[str, Any]) -> dict[str, list[str]]:
    layers = provenance["metadata"][METADATA]["layers"]
    return {key: [d["digest"] for d in chains[0]] for key, chains in layers.items()}


def _check_chains_against_provenance(export: CacheExport, provenance: dict[str, Any]) -> int:
    """Every exec step's record chain equals the layers the provenance lists for the step, or,
    when it lists none (BuildKit v0.13 lists only the result's), extends a chain it lists
    (the base image's). Returns how many chains were compared exactly."""
    by_step = _layers_by_step(provenance)
    exact = 0
    for step in exec_steps(provenance):
        record = export.record_by_digest(record_digest(exec_cache_digest(step.op), 0))
        assert record is not None, step.id
        chain = [layer.blob for layer in export.record_chains(record)[0]]
        listed = by_step.get(f"{step.id}:0")
        if listed is not None:
            assert chain == listed, step.id
            exact += 1
        else:
            assert any(c and chain[: len(c)] == c for c in by_step.values()), step.id
    return exact


@pytest.mark.parametrize(
    ("root", "scenario"),
    [
        (KEYS, "features"),
        (KEYS, "multi"),
        (KEYS, "gobuild"),
        (KEYS_V013, "features"),  # Docker 26.1.5: an index naming config and layers
        (KEYS_V013, "multi"),
    ],
    ids=["v0.25-features", "v0.25-multi", "v0.25-gobuild", "v0.13-features", "v0.13-multi"],
)
def test_recorded_export_reads_and_chains_match_provenance(
    root: Path, scenario: str, tmp_path: Path
) -> None:
    export = read_cache_export(layout_from_fixture(scenario, tmp_path, root))
    config = load(root / scenario / "cacheconfig.json")
    manifest = load(root / scenario / "manifest.json")
    index = load(root / scenario / "index.json")
    assert export.manifest_digest == index["manifests"][0]["digest"]
    descriptors = {d["digest"]: d for d in manifest.get("layers", manifest.get("manifests"))}
    config_desc = manifest.get("config") or descriptors[export.config_digest]
    assert export.config_digest == config_desc["digest"]
    assert config_desc["mediaType"] == "application/vnd.buildkit.cacheconfig.v0"
    assert [r.digest for r in export.records] == [r["digest"] for r in config["records"]]
    assert [layer.blob for layer in export.layers] == [la["blob"] for la in config["layers"]]
    for layer in export.layers:
        desc = descriptors[layer.blob]
        assert layer.size == desc["size"]
        assert layer.media_type == desc["mediaType"]
        assert layer.diff_id == desc["annotations"]["containerd.io/uncompressed"]
        assert layer.created_at is not None
        assert not layer.present  # the layout holds no layer blobs
    provenance_files = sorted((root / scenario).glob("provenance-*.json"))
    exact = sum(_check_chains_against_provenance(export, load(p)) for p in provenance_files)
    assert exact > 0 or (root, scenario) == (KEYS_V013, "multi")


def test_absent_parent_is_layer_zero_and_minus_one_is_none(tmp_path: Path) -> None:
    export = read_cache_export(layout_from_fixture("features", tmp_path))
    raw = load(KEYS / "features" / "cacheconfig.json")["layers"]
    for layer, entry in zip(export.layers, raw, strict=True):
        expected = entry.get("parent", 0)
        assert layer.parent == (None if expected == -1 else expected)
    assert any("parent" not in entry for entry in raw)  # the fixture exercises the rule


def test_inputs_keep_selectors_and_content_keys_are_found(tmp_path: Path) -> None:
    export = read_cache_export(layout_from_fixture("features", tmp_path))
    root_selector = "sha256:" + hashlib.sha256(b"/").hexdigest()
    selectors = {link.selector for r in export.records for slot in r.inputs for link in slot}
    assert root_selector in selectors
    assert "" in selectors
    exec_records = {
        record_digest(exec_cache_digest(step.op), 0)
        for step in exec_steps(load(KEYS / "features" / "provenance-linux-amd64.json"))
    }
    candidates = export.content_key_candidates()
    assert candidates
    for index in candidates:
        record = export.records[index]
        assert record.is_root and not record.results
        assert record.digest not in exec_records


def test_present_blobs_are_noticed(tmp_path: Path) -> None:
    directory = layout_from_fixture("gobuild", tmp_path)
    first = read_cache_export(directory)
    path = blob_path(directory, first.layers[0].blob)
    path.write_bytes(b"")
    assert read_cache_export(directory).layers[0].present


def test_index_style_export_with_config_among_descriptors(tmp_path: Path) -> None:
    manifest = load(KEYS / "multi" / "manifest.json")
    config = (KEYS / "multi" / "cacheconfig.json").read_bytes()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [*manifest["layers"], manifest["config"]],
    }
    _write_blob(tmp_path, config)
    top = json.dumps(index).encode()
    digest = _write_blob(tmp_path, top)
    (tmp_path / "index.json").write_text(
        json.dumps({"manifests": [{"mediaType": index["mediaType"], "digest": digest}]})
    )
    export = read_cache_export(tmp_path)
    assert export.manifest_digest == digest
    assert len(export.records) == len(json.loads(config)["records"])
    assert all(layer.diff_id for layer in export.layers)


def test_several_manifests_pick_the_tag(tmp_path: Path) -> None:
    directory = layout_from_fixture("multi", tmp_path)
    index = json.loads((directory / "index.json").read_text())
    other = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "x"})
    index["manifests"].insert(0, other)
    (directory / "index.json").write_text(json.dumps(index))
    assert read_cache_export(directory).records
    with pytest.raises(RecordError, match="none is tagged 'nope'"):
        read_cache_export(directory, tag="nope")


def test_parse_go_time() -> None:
    assert parse_go_time("1970-01-01T00:00:01.5Z") == 1.5
    assert parse_go_time("2026-11-27T16:20:41.8515721Z") == pytest.approx(1795796441.8515721)
    assert parse_go_time("1970-01-01T02:00:00+02:00") == 0.0
    assert parse_go_time("0001-01-01T00:00:00Z") is None
    with pytest.raises(ValueError):
        parse_go_time("yesterday")


def _mutate_config(directory: Path, change: Any) -> None:
    """Rewrite the layout with a changed cache config (manifest and index follow)."""
    manifest_desc = json.loads((directory / "index.json").read_text())["manifests"][0]
    manifest = json.loads(blob_path(directory, manifest_desc["digest"]).read_bytes())
    config = json.loads(blob_path(directory, manifest["config"]["digest"]).read_bytes())
    change(config)
    data = json.dumps(config).encode()
    manifest["config"] = dict(manifest["config"], digest=_write_blob(directory, data))
    manifest_data = json.dumps(manifest).encode()
    manifest_desc = dict(manifest_desc, digest=_write_blob(directory, manifest_data))
    (directory / "index.json").write_text(json.dumps({"manifests": [manifest_desc]}))


def _set(path: list[Any], value: Any) -> Any:
    def change(config: dict[str, Any]) -> None:
        target: Any = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(["records", 1, "inputs", 0, 0, "link"], 999), r"link 999 is out of range"),
        (_set(["records", 1, "layers", 0, "layer"], 999), r"layer 999 is out of range"),
        (_set(["layers", 0, "parent"], 0), "its own parent"),
        (_set(["records", 0, "digest"], "sha256:zz"), "not a digest"),
        (_set(["records", 1, "layers", 0, "createdAt"], "soon"), "not a time"),
        (_set(["records"], {"a": 1}), "config records is not an array"),
    ],
)
def test_broken_configs_give_one_line_errors(change: Any, message: str, tmp_path: Path) -> None:
    directory = layout_from_fixture("features", tmp_path)
    _mutate_config(directory, change)
    with pytest.raises(RecordError, match=message) as info:
        read_cache_export(directory)
    assert "\n" not in str(info.value)


def test_parent_cycle_is_refused(tmp_path: Path) -> None:
    directory = layout_from_fixture("multi", tmp_path)

    def cycle(config: dict[str, Any]) -> None:
        config["layers"][0]["parent"] = 1
        config["layers"][1]["parent"] = 0

    _mutate_config(directory, cycle)
    with pytest.raises(RecordError, match="parent cycle"):
        read_cache_export(directory)


def test_broken_directories_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="not a directory"):
        read_cache_export(tmp_path / "missing")
    with pytest.raises(RecordError, match=r"index.json is missing"):
        read_cache_export(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(RecordError, match=r"index\.json is not JSON"):
        read_cache_export(tmp_path)
    (tmp_path / "index.json").write_text('{"manifests": []}')
    with pytest.raises(RecordError, match="lists no manifest"):
        read_cache_export(tmp_path)
    digest = "sha256:" + "0" * 64
    (tmp_path / "index.json").write_text(json.dumps({"manifests": [{"digest": digest}]}))
    with pytest.raises(RecordError, match="the manifest is missing"):
        read_cache_export(tmp_path)
    blob = blob_path(tmp_path, digest)
    blob.parent.mkdir(parents=True)
    blob.write_text("{}")
    with pytest.raises(RecordError, match="does not match its digest"):
        read_cache_export(tmp_path)


def test_an_image_layout_is_not_a_cache_export(tmp_path: Path) -> None:
    config = _write_blob(tmp_path, b"{}")
    manifest = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config},
        "layers": [],
    }
    digest = _write_blob(tmp_path, json.dumps(manifest).encode())
    (tmp_path / "index.json").write_text(json.dumps({"manifests": [{"digest": digest}]}))
    with pytest.raises(RecordError, match="not a BuildKit cache export"):
        read_cache_export(tmp_path)


@pytest.mark.parametrize("digest", ["sha256:../../etc/passwd", "md5:abc", "", "sha256:" + "A" * 64])
def test_blob_path_refuses_what_is_not_a_digest(digest: str, tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="not a blob digest"):
        blob_path(tmp_path, digest)


@pytest.mark.engine
def test_fresh_export_from_the_engine(engine: Engine, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo {tmp_path.name} > /one\n"
        "RUN --mount=type=cache,target=/c cp /one /c/one && cat /one > /two\n"
    )
    meta, cache = tmp_path / "meta.json", tmp_path / "cache"
    engine.docker(
        "buildx", "build", "--progress=quiet", "--metadata-file", str(meta),
        "--cache-to", f"type=local,dest={cache},mode=max",
        "-o", f"type=local,dest={tmp_path / 'out'}", str(context),
    )  # fmt: skip
    ref = json.loads(meta.read_text())["buildx.build.ref"].rsplit("/", 1)[-1]
    provenance = json.loads(
        engine.docker(
            "buildx", "history", "inspect", "attachment", ref, "--type", "provenance"
        ).stdout
    )
    export = read_cache_export(cache)
    assert export.layers and all(layer.present for layer in export.layers)
    for layer in export.layers:
        assert blob_path(cache, layer.blob).stat().st_size == layer.size
        assert layer.diff_id.startswith("sha256:")
    assert _check_chains_against_provenance(export, provenance) == 2
