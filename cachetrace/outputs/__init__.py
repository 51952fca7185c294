"""Output forensics: what a build step really produced, read with no BuildKit knowledge.

- ``layer``: stream a layer blob (gzip, zstd or plain tar) once: entries, diffID, content
  digest and the executables in it (``scan_layer``).
- ``binary``: ELF, PE and Mach-O facts (``inspect_binary``), from ``elf``, ``pe``, ``macho``.
- ``buildinfo``: Go build info, inline and pointer formats (``parse_buildinfo``).
- ``filesystem``: an image's final filesystem from a layer chain (``apply_layers``).
- ``parallel``: several blobs at once (``scan_layer_files``).

Errors: ``LayerError`` (corrupt, truncated or unreadable blob; names the blob and how far
the read got) and ``BinaryFormatError`` (corrupt executable header or build info).
"""

from __future__ import annotations
