"""Scan several layer blobs at once, one per worker thread.

Each ``scan_layer`` already overlaps inflating with hashing on two threads; when the inflate
thread is the bottleneck, a second layer in flight fills the other core (the heavy parts,
zlib/ISA-L, zstd and hashlib, release the GIL). Measured in bench/RESULTS-layer-scan.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cachetrace.errors import LayerError
from cachetrace.model.outputs import LayerScan
from cachetrace.outputs.layer import BINARY_CAP, scan_layer


@dataclass(frozen=True, slots=True)
class LayerBlob:
    """A layer blob on disk, with its media type when known and a name for messages."""

    path: Path
    media_type: str | None = None
    name: str = ""


def scan_layer_files(
    blobs: Sequence[LayerBlob],
    *,
    workers: int = 0,
    want_binary: Callable[[str], bool] | None = None,
    binary_cap: int = BINARY_CAP,
) -> list[LayerScan]:
    """Scan every blob, in the order given; ``workers`` 0 means one per CPU (at most 4).

    The first LayerError (in the given order) is raised after all scans finish.
    """
    count = workers or min(4, os.cpu_count() or 1)

    def one(blob: LayerBlob) -> LayerScan:
        name = blob.name or str(blob.path)
        try:
            f = blob.path.open("rb")
        except OSError as exc:
            raise LayerError(f"layer {name}: cannot open: {exc.strerror or exc}") from None
        with f:
            return scan_layer(
                f,
                media_type=blob.media_type,
                name=name,
                want_binary=want_binary,
                binary_cap=binary_cap,
            )

    if count <= 1 or len(blobs) <= 1:
        return [one(b) for b in blobs]
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="cachetrace-scan") as pool:
        futures = [pool.submit(one, b) for b in blobs]
        return [f.result() for f in futures]
