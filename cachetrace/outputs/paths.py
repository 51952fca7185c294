"""Path cleaning for layer members and image lookups: absolute, no ``.``/``..``, no trailing /."""

from __future__ import annotations

import posixpath


def clean(name: str) -> str:
    """``./usr/bin/`` -> ``/usr/bin``; ``..`` never climbs above the root; root is ``/``."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def split(path: str) -> tuple[str, str]:
    """(parent, basename) of a cleaned path; the root's parent is itself."""
    if path == "/":
        return "/", ""
    parent, base = posixpath.split(path)
    return parent or "/", base


def join(parent: str, name: str) -> str:
    return clean(parent + "/" + name)
