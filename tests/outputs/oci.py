"""Read the layers of an image from an OCI layout directory (``-o type=oci,tar=false``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cachetrace.model.outputs import LayerScan
from cachetrace.outputs.layer import scan_layer


@dataclass(frozen=True)
class Image:
    diff_ids: list[str]
    layers: list[LayerScan]


def _blob(root: Path, digest: str) -> Path:
    algo, hexd = digest.split(":", 1)
    return root / "blobs" / algo / hexd


def read_image(root: Path) -> Image:
    desc = json.loads((root / "index.json").read_text())["manifests"][0]
    doc = json.loads(_blob(root, desc["digest"]).read_text())
    while "manifests" in doc:  # an index: take the first manifest
        doc = json.loads(_blob(root, doc["manifests"][0]["digest"]).read_text())
    config = json.loads(_blob(root, doc["config"]["digest"]).read_text())
    layers = []
    for layer in doc["layers"]:
        with _blob(root, layer["digest"]).open("rb") as f:
            layers.append(scan_layer(f, media_type=layer["mediaType"], name=layer["digest"]))
    return Image(config["rootfs"]["diff_ids"], layers)
