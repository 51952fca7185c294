"""A small path-aware reader over decoded provenance JSON, for one-line errors.

``Obj`` wraps a JSON object with the path it was found at; every accessor checks the type it
expects and raises ``ProtocolError`` naming that path. Go's ``null`` reads as absent.
"""

from __future__ import annotations

from typing import Any

from cachetrace.errors import ProtocolError
from cachetrace.model import JSONValue

__all__ = ["Obj", "kind"]


class Obj:
    """A JSON object with its path, for one-line errors. Go's ``null`` reads as absent."""

    __slots__ = ("d", "path")

    def __init__(self, value: object, path: str) -> None:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ProtocolError(f"provenance {path}: expected an object, got {kind(value)}")
        self.d: dict[str, Any] = value
        self.path = path

    def __contains__(self, key: str) -> bool:
        return self.d.get(key) is not None

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if key.isidentifier() else f"{self.path}[{key!r}]"

    def raw(self, key: str) -> JSONValue:
        return self.d.get(key)

    def obj(self, key: str) -> Obj:
        return Obj(self.d.get(key), self._at(key))

    def opt_obj(self, key: str) -> Obj | None:
        return self.obj(key) if key in self else None

    def text(self, key: str, default: str = "") -> str:
        v = self.d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise ProtocolError(f"provenance {self._at(key)}: expected a string, got {kind(v)}")
        return v

    def num(self, key: str, default: int = 0) -> int:
        v = self.d.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise ProtocolError(f"provenance {self._at(key)}: expected an integer, got {kind(v)}")
        return v

    def flag(self, key: str) -> bool:
        v = self.d.get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            raise ProtocolError(f"provenance {self._at(key)}: expected a boolean, got {kind(v)}")
        return v

    def array(self, key: str) -> list[Any]:
        v = self.d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise ProtocolError(f"provenance {self._at(key)}: expected a list, got {kind(v)}")
        return v

    def objs(self, key: str) -> list[Obj]:
        at = self._at(key)
        return [Obj(v, f"{at}[{i}]") for i, v in enumerate(self.array(key))]

    def texts(self, key: str) -> tuple[str, ...]:
        at = self._at(key)
        out = []
        for i, v in enumerate(self.array(key)):
            if not isinstance(v, str):
                raise ProtocolError(f"provenance {at}[{i}]: expected a string, got {kind(v)}")
            out.append(v)
        return tuple(out)

    def nums(self, key: str) -> tuple[int, ...]:
        at = self._at(key)
        out = []
        for i, v in enumerate(self.array(key)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ProtocolError(f"provenance {at}[{i}]: expected an integer, got {kind(v)}")
            out.append(v)
        return tuple(out)

    def text_map(self, key: str) -> dict[str, str]:
        m = self.obj(key)
        return {k: m.text(k) for k in m.d}

    def enum(self, key: str, table: dict[int, Any]) -> Any:
        n = self.num(key)
        if n not in table:
            raise ProtocolError(f"provenance {self._at(key)}: unknown value {n}")
        return table[n]


def kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    return "an object"
