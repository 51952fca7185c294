"""The capture model: frozen dataclasses, standard library only.

The model is a package of small modules, each owned by one part of the core:

- ``build``: what the status stream and history say (vertices, logs, warnings, records).
- ``llb``: LLB steps and ops decoded from the provenance (exec meta, mounts, sources, files).
- ``cache``: the cache export (records, their inputs and layers).
- ``outputs``: what a layer really holds (file entries, binaries, Go build info).
- ``capture``: one recorded build, tying the above together.

Conventions every model module keeps, so that ``cachetrace.capture_io`` can write any model
object with orjson and read it back into the same dataclasses without per-type code:

- ``@dataclass(frozen=True, slots=True)``; every field has a type hint made only of
  ``str``, ``int``, ``float``, ``bool``, ``None`` unions (``X | None``), ``tuple[X, ...]``,
  ``dict[str, X]``, other model dataclasses, ``enum.Enum`` subclasses with ``str`` values,
  and ``JSONValue`` for raw JSON kept losslessly (e.g. an LLB op as the provenance gives it).
- No ``bytes`` (decode logs as UTF-8 with ``errors="replace"``), no ``datetime`` (timestamps
  are ``float`` seconds since the epoch, UTC), no ``list``/``set`` (use tuples).
- Absent data is ``None`` plus, where the reason matters, an ``Absent`` explaining why.
- Nothing here renders text or knows about grpc, networkx, orjson or textual.
"""

from __future__ import annotations

from typing import Any, TypeAlias

# Raw JSON kept as it came (dicts, lists, str, int, float, bool, None).
JSONValue: TypeAlias = Any

__all__ = ["JSONValue"]
