"""The cache export: BuildKit's cache records, their input links and their result layers.

What ``--cache-to type=local,dest=DIR,mode=max`` writes (an OCI layout whose manifest names a
``application/vnd.buildkit.cacheconfig.v0`` config), as read by
``cachetrace.record.cache_export``. Indexes are the positions in the config's ``layers`` and
``records`` arrays, which is how the export links them.

- A record's ``digest`` is ``sha256("<CacheMap digest>@<output>")``; there is no vertex digest.
- ``inputs[i]`` lists the records that can stand for input ``i`` of the op, each with the
  selector (a digest of the mounted paths, ``""`` for none) under which it was linked.
- Content-checksum keys (``sha256("<content digest>@-1")``) are roots without results, linked
  with an empty selector; from the export alone they cannot be told from source records that
  have no results, so :meth:`CacheExport.content_key_candidates` says "candidates".
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CACHE_CONFIG_MEDIA_TYPE",
    "CacheChain",
    "CacheExport",
    "CacheInput",
    "CacheLayer",
    "CacheRecord",
    "CacheResult",
]

CACHE_CONFIG_MEDIA_TYPE = "application/vnd.buildkit.cacheconfig.v0"


@dataclass(frozen=True, slots=True)
class CacheLayer:
    """One layer blob of the export, with its parent layer (the chain it extends)."""

    index: int
    blob: str
    parent: int | None = None  # index of the parent layer; None for a base layer
    media_type: str = ""
    size: int | None = None  # compressed size, from the blob's descriptor
    diff_id: str = ""  # digest of the uncompressed tar
    created_at: float | None = None  # seconds since the epoch, UTC
    annotations: dict[str, str] = field(default_factory=dict)  # the descriptor's, as written
    present: bool = False  # the blob file is in the export directory


@dataclass(frozen=True, slots=True)
class CacheResult:
    """A record's result: the top layer of the chain it produced."""

    layer: int
    created_at: float | None = None


@dataclass(frozen=True, slots=True)
class CacheChain:
    """A chained result (several layer indexes for one result), rare in current BuildKit."""

    layers: tuple[int, ...]
    created_at: float | None = None


@dataclass(frozen=True, slots=True)
class CacheInput:
    """A link from an input slot of a record to the record that fed it."""

    link: int
    selector: str = ""  # "" = the whole input, no path selection


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """One cache key of the export."""

    index: int
    digest: str
    results: tuple[CacheResult, ...] = ()
    chains: tuple[CacheChain, ...] = ()
    inputs: tuple[tuple[CacheInput, ...], ...] = ()

    @property
    def is_root(self) -> bool:
        """No input links: a source, or a content-checksum key."""
        return not any(self.inputs)


@dataclass(frozen=True, slots=True)
class CacheExport:
    """The records and layers of one cache export directory."""

    manifest_digest: str
    config_digest: str
    layers: tuple[CacheLayer, ...] = ()
    records: tuple[CacheRecord, ...] = ()

    def record_by_digest(self, digest: str) -> CacheRecord | None:
        """The record with this key digest, if the export has it."""
        for record in self.records:
            if record.digest == digest:
                return record
        return None

    def layer_chain(self, layer: int) -> tuple[CacheLayer, ...]:
        """The layers from the base up to ``layer`` (inclusive), following parents."""
        chain: list[CacheLayer] = []
        seen: set[int] = set()
        current: int | None = layer
        while current is not None:
            if current in seen or not 0 <= current < len(self.layers):
                break  # a cycle or a dangling index: the reader refuses both; stay total
            seen.add(current)
            chain.append(self.layers[current])
            current = self.layers[current].parent
        chain.reverse()
        return tuple(chain)

    def record_chains(self, record: CacheRecord) -> tuple[tuple[CacheLayer, ...], ...]:
        """One base-to-top layer chain per result of ``record``."""
        chains = [self.layer_chain(result.layer) for result in record.results]
        for chained in record.chains:
            if chained.layers:
                chains.append(self.layer_chain(chained.layers[-1]))
        return tuple(chains)

    def linked_from(self) -> dict[int, tuple[tuple[int, int, str], ...]]:
        """For each record index: (record, input slot, selector) of every link to it."""
        links: dict[int, list[tuple[int, int, str]]] = {}
        for record in self.records:
            for slot, inputs in enumerate(record.inputs):
                for link in inputs:
                    links.setdefault(link.link, []).append((record.index, slot, link.selector))
        return {k: tuple(v) for k, v in links.items()}

    def content_key_candidates(self) -> tuple[int, ...]:
        """Roots without results that are only ever linked with an empty selector.

        Content-checksum keys have this shape. Source records (an image) with no exported
        results can have it too when no step selects a path of them; a join with the LLB
        tells them apart.
        """
        links = self.linked_from()
        out: list[int] = []
        for record in self.records:
            if not record.is_root or record.results or record.chains:
                continue
            incoming = links.get(record.index, ())
            if incoming and all(selector == "" for _, _, selector in incoming):
                out.append(record.index)
        return tuple(out)
