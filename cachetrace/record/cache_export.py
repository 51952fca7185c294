"""Read a ``--cache-to type=local,dest=DIR`` export into the model (``model.cache``).

The directory is an OCI layout (seen on Docker Engine 28.5.2 / BuildKit v0.25.2)::

    DIR/oci-layout
    DIR/index.json            {"manifests": [{image manifest, annotations: ref.name "latest"}]}
    DIR/blobs/sha256/<hex>    the manifest, the cache config and every layer blob

The manifest's ``config`` is the ``application/vnd.buildkit.cacheconfig.v0`` JSON and its
``layers`` are the layer descriptors (media type, size, annotations ``buildkit/createdat`` and
``containerd.io/uncompressed`` = the diffID). Older exports (and ``image-manifest=false`` on
registries) name an OCI index instead, listing the config among the layer descriptors; both
are read. The config is Go ``encoding/json`` of ``cache/remotecache/v1/spec.go``, where
``omitempty`` hides zero values: an absent ``parent`` is layer 0 (``-1`` means none), an
absent ``selector`` is ``""``.

Every problem with the directory is a one-line :class:`~cachetrace.errors.RecordError`.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cachetrace.errors import RecordError
from cachetrace.model.cache import (
    CACHE_CONFIG_MEDIA_TYPE,
    CacheChain,
    CacheExport,
    CacheInput,
    CacheLayer,
    CacheRecord,
    CacheResult,
)

__all__ = ["blob_path", "parse_go_time", "read_cache_export"]

_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")
_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_MAX_JSON = 256 << 20  # a cache config of a huge build is a few MB; refuse absurd files
ANNOTATION_CREATED = "buildkit/createdat"
ANNOTATION_UNCOMPRESSED = "containerd.io/uncompressed"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


def blob_path(directory: Path, digest: str) -> Path:
    """Where the blob ``digest`` lives in the OCI layout ``directory`` (it may be absent)."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise RecordError(f"cache export {directory}: not a blob digest: {digest!r}")
    algorithm, _, encoded = digest.partition(":")
    return Path(directory) / "blobs" / algorithm / encoded


def parse_go_time(text: str) -> float | None:
    """Seconds since the epoch of a Go RFC 3339 time (nanoseconds kept as far as a float can).

    Go's zero ``time.Time`` (``0001-01-01T00:00:00Z``), written for unset times, gives None.
    """
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year == 1 and month == 1 and day == 1 and hour == minute == second == 0:
        return None
    whole = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = match.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        whole -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    fraction = match.group(7)
    return whole + (float(fraction) if fraction else 0.0)


def _load_json(directory: Path, path: Path, what: str, digest: str | None = None) -> Any:
    try:
        size = path.stat().st_size
        if size > _MAX_JSON:
            raise RecordError(f"cache export {directory}: {what} is {size} bytes, too large")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"cache export {directory}: {what} is missing ({path.name})") from None
    except OSError as exc:
        raise RecordError(f"cache export {directory}: cannot read {what}: {exc.strerror}") from None
    if digest is not None:
        algorithm, _, expected = digest.partition(":")
        if hashlib.new(algorithm, raw).hexdigest() != expected:
            raise RecordError(f"cache export {directory}: {what} does not match its digest")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"cache export {directory}: {what} is not JSON ({exc})") from None


class _Reader:
    """One read of one directory; ``fail`` names the directory and the bad path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def fail(self, message: str) -> RecordError:
        return RecordError(f"cache export {self.directory}: {message}")

    def obj(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{where} is not an object")
        return value

    def array(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{where} is not an array")
        return value

    def int_(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"{where} is not an integer")
        return value

    def str_(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{where} is not a string")
        return value

    def digest(self, value: Any, where: str) -> str:
        text = self.str_(value, where)
        if not _DIGEST.match(text):
            raise self.fail(f"{where} is not a digest: {text!r}")
        return text

    def time(self, value: Any, where: str) -> float | None:
        if value is None:
            return None
        try:
            return parse_go_time(self.str_(value, where))
        except ValueError:
            raise self.fail(f"{where} is not a time: {value!r}") from None

    def annotations(self, value: Any, where: str) -> dict[str, str]:
        if value is None:
            return {}
        raw = self.obj(value, where)
        return {str(k): self.str_(v, f"{where}.{k}") for k, v in raw.items()}

    def descriptor(self, value: Any, where: str) -> Mapping[str, Any]:
        desc = self.obj(value, where)
        self.digest(desc.get("digest"), f"{where}.digest")
        return desc


def _pick_manifest(reader: _Reader, index: Mapping[str, Any], tag: str) -> Mapping[str, Any]:
    manifests = [
        reader.descriptor(d, f"index.json manifests[{i}]")
        for i, d in enumerate(reader.array(index.get("manifests"), "index.json manifests"))
    ]
    if not manifests:
        raise reader.fail("index.json lists no manifest")
    if len(manifests) == 1:
        return manifests[0]
    for desc in manifests:
        if (
            reader.annotations(desc.get("annotations"), "index.json annotations").get(
                ANNOTATION_REF_NAME
            )
            == tag
        ):
            return desc
    raise reader.fail(f"index.json lists {len(manifests)} manifests and none is tagged {tag!r}")


def _config_and_layers(
    reader: _Reader, manifest: Mapping[str, Any], media_type: str
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    """The cache config descriptor and the layer descriptors of a manifest or an index."""
    kind = manifest.get("mediaType", media_type)
    if kind in _INDEX_TYPES or ("manifests" in manifest and "config" not in manifest):
        entries = [
            reader.descriptor(d, f"manifest manifests[{i}]")
            for i, d in enumerate(reader.array(manifest.get("manifests"), "manifest manifests"))
        ]
        configs = [d for d in entries if d.get("mediaType") == CACHE_CONFIG_MEDIA_TYPE]
        layers = [d for d in entries if d.get("mediaType") != CACHE_CONFIG_MEDIA_TYPE]
        if len(configs) != 1:
            raise reader.fail(f"the cache index names {len(configs)} cache configs, not 1")
        return configs[0], layers
    config = reader.descriptor(manifest.get("config"), "manifest config")
    if config.get("mediaType") != CACHE_CONFIG_MEDIA_TYPE:
        raise reader.fail(
            f"not a BuildKit cache export: the manifest's config is {config.get('mediaType')!r}"
        )
    layers = [
        reader.descriptor(d, f"manifest layers[{i}]")
        for i, d in enumerate(reader.array(manifest.get("layers"), "manifest layers"))
    ]
    return config, layers


def _layers(
    reader: _Reader, config: Mapping[str, Any], descriptors: list[Mapping[str, Any]]
) -> tuple[CacheLayer, ...]:
    by_blob = {str(d["digest"]): d for d in descriptors}
    raw_layers = reader.array(config.get("layers"), "config layers")
    out: list[CacheLayer] = []
    for i, raw in enumerate(raw_layers):
        where = f"config layers[{i}]"
        layer = reader.obj(raw, where)
        blob = reader.digest(layer.get("blob"), f"{where}.blob")
        parent = reader.int_(layer.get("parent", 0), f"{where}.parent")
        if parent != -1 and not 0 <= parent < len(raw_layers):
            raise reader.fail(f"{where}.parent {parent} is out of range")
        if parent == i:
            raise reader.fail(f"{where} is its own parent")
        extra = layer.get("annotations")
        own = reader.obj(extra, f"{where}.annotations") if extra is not None else {}
        desc = by_blob.get(blob, {})
        annotations = reader.annotations(desc.get("annotations"), f"descriptor of {blob}")
        media_type = desc.get("mediaType", own.get("mediaType", ""))
        size = desc.get("size", own.get("size"))
        diff_id = annotations.get(ANNOTATION_UNCOMPRESSED, own.get("diffID", ""))
        created = annotations.get(ANNOTATION_CREATED, own.get("createdAt"))
        out.append(
            CacheLayer(
                index=i,
                blob=blob,
                parent=None if parent == -1 else parent,
                media_type=reader.str_(media_type, f"{where} mediaType"),
                size=None if size is None else reader.int_(size, f"{where} size"),
                diff_id=reader.str_(diff_id, f"{where} diffID"),
                created_at=reader.time(created, f"{where} createdAt"),
                annotations=annotations,
                present=blob_path(reader.directory, blob).is_file(),
            )
        )
    _check_acyclic(reader, out)
    return tuple(out)


def _check_acyclic(reader: _Reader, layers: list[CacheLayer]) -> None:
    state = [0] * len(layers)  # 0 unseen, 1 on the current walk, 2 done
    for start in range(len(layers)):
        walk: list[int] = []
        current: int | None = start
        while current is not None and state[current] == 0:
            state[current] = 1
            walk.append(current)
            current = layers[current].parent
        if current is not None and state[current] == 1:
            raise reader.fail(f"config layers form a parent cycle at layer {current}")
        for i in walk:
            state[i] = 2


def _records(reader: _Reader, config: Mapping[str, Any], n_layers: int) -> tuple[CacheRecord, ...]:
    raw_records = reader.array(config.get("records"), "config records")
    out: list[CacheRecord] = []
    for i, raw in enumerate(raw_records):
        where = f"config records[{i}]"
        record = reader.obj(raw, where)
        results: list[CacheResult] = []
        for j, res in enumerate(reader.array(record.get("layers"), f"{where}.layers")):
            res_obj = reader.obj(res, f"{where}.layers[{j}]")
            layer = reader.int_(res_obj.get("layer", 0), f"{where}.layers[{j}].layer")
            if not 0 <= layer < n_layers:
                raise reader.fail(f"{where}.layers[{j}].layer {layer} is out of range")
            created = reader.time(res_obj.get("createdAt"), f"{where}.layers[{j}].createdAt")
            results.append(CacheResult(layer=layer, created_at=created))
        chains: list[CacheChain] = []
        for j, chain in enumerate(reader.array(record.get("chains"), f"{where}.chains")):
            chain_obj = reader.obj(chain, f"{where}.chains[{j}]")
            indexes = tuple(
                reader.int_(v, f"{where}.chains[{j}].layers")
                for v in reader.array(chain_obj.get("layers"), f"{where}.chains[{j}].layers")
            )
            if any(not 0 <= v < n_layers for v in indexes):
                raise reader.fail(f"{where}.chains[{j}] names a layer out of range")
            created = reader.time(chain_obj.get("createdAt"), f"{where}.chains[{j}].createdAt")
            chains.append(CacheChain(layers=indexes, created_at=created))
        inputs: list[tuple[CacheInput, ...]] = []
        for j, slot in enumerate(reader.array(record.get("inputs"), f"{where}.inputs")):
            links: list[CacheInput] = []
            for k, link in enumerate(reader.array(slot, f"{where}.inputs[{j}]")):
                at = f"{where}.inputs[{j}][{k}]"
                link_obj = reader.obj(link, at)
                target = reader.int_(link_obj.get("link", 0), f"{at}.link")
                if not 0 <= target < len(raw_records):
                    raise reader.fail(f"{at}.link {target} is out of range")
                selector = reader.str_(link_obj.get("selector", ""), f"{at}.selector")
                links.append(CacheInput(link=target, selector=selector))
            inputs.append(tuple(links))
        out.append(
            CacheRecord(
                index=i,
                digest=reader.digest(record.get("digest"), f"{where}.digest"),
                results=tuple(results),
                chains=tuple(chains),
                inputs=tuple(inputs),
            )
        )
    return tuple(out)


def read_cache_export(directory: Path, *, tag: str = "latest") -> CacheExport:
    """Read the cache export in ``directory`` (``tag`` picks a manifest when there are several)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RecordError(f"cache export {directory}: not a directory")
    reader = _Reader(directory)
    index = reader.obj(_load_json(directory, directory / "index.json", "index.json"), "index.json")
    top = _pick_manifest(reader, index, tag)
    top_digest = str(top["digest"])
    manifest = reader.obj(
        _load_json(directory, blob_path(directory, top_digest), "the manifest", top_digest),
        "the manifest",
    )
    config_desc, layer_descs = _config_and_layers(reader, manifest, str(top.get("mediaType", "")))
    config_digest = str(config_desc["digest"])
    config = reader.obj(
        _load_json(
            directory, blob_path(directory, config_digest), "the cache config", config_digest
        ),
        "the cache config",
    )
    layers = _layers(reader, config, layer_descs)
    records = _records(reader, config, len(layers))
    return CacheExport(
        manifest_digest=top_digest,
        config_digest=config_digest,
        layers=layers,
        records=records,
    )
