"""The capture model: frozen dataclasses, standard library only.

The model is a package of small modules, each owned by one part of the core:

- ``build``: what the status stream and history say (vertices, logs, warnings, records).
- ``llb``: LLB steps and ops decoded from the provenance (exec meta, mounts, sources, files).
- ``cache``: the cache export (records, their inputs and layers).
- ``outputs``: what a layer really holds (file entries, binaries, Go build info).
- ``capture``: one recorded build, tying the above together.

Nothing here renders text or knows about grpc, networkx, orjson or textual.
"""

from __future__ import annotations
