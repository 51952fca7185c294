"""Model dataclasses <-> JSON-able values, driven by the dataclasses' type hints.

The model keeps a few conventions (see ``cachetrace.model``) so one generic codec serves every
model type: dataclasses become objects keyed by field name, tuples become arrays, ``dict[str, X]``
objects, ``str`` Enums their value. Decoding checks types and names the path of the first value
that does not fit, so a corrupt or foreign file gives a one-line error.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Protocol, TypeVar, Union, get_args, get_origin

from cachetrace.errors import CaptureFormatError

T = TypeVar("T")

_NONE = type(None)


def to_jsonable(value: Any, scrub: Scrubber | None = None) -> Any:
    """Plain JSON values (dict/list/str/int/float/bool/None) for any model object.

    With a ``scrub``, every string passes through ``scrub.text`` and every entry of a mapping
    (build args, env maps, raw JSON objects; not dataclass fields, whose names are ours)
    through ``scrub.entry``, so secrets are removed while the tree is built.
    """
    if isinstance(value, str):
        return scrub.text(value) if scrub is not None else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), scrub) for f in _fields(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, scrub) for v in value]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            if scrub is not None and isinstance(v, str) and scrub.is_secret_entry(key, v):
                out[key] = scrub.redacted
            else:
                out[key] = to_jsonable(v, scrub)
        return out
    return value


class Scrubber(Protocol):
    """What ``to_jsonable`` needs from a redaction policy (see ``capture_io.redact``)."""

    redacted: str

    def text(self, value: str) -> str: ...

    def is_secret_entry(self, key: str, value: str) -> bool: ...


def from_jsonable(cls: type[T], data: Any, path: str = "$") -> T:
    """Rebuild ``cls`` from plain JSON values; ``CaptureFormatError`` names the bad path."""
    return typing.cast(T, _decode(cls, data, path))


@cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.init)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fail(path: str, expected: str, data: Any) -> CaptureFormatError:
    got = type(data).__name__
    return CaptureFormatError(f"invalid capture at {path}: expected {expected}, got {got}")


def _decode(tp: Any, data: Any, path: str) -> Any:
    if tp is Any:
        return data
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if data is None:
            if _NONE in args:
                return None
            raise _fail(path, "a value", data)
        options = [a for a in args if a is not _NONE]
        if len(options) == 1:
            return _decode(options[0], data, path)
        last: CaptureFormatError | None = None
        for option in options:
            try:
                return _decode(option, data, path)
            except CaptureFormatError as exc:
                last = exc
        assert last is not None
        raise last
    if origin is tuple:
        if not isinstance(data, list):
            raise _fail(path, "an array", data)
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise CaptureFormatError(f"invalid capture at {path}: expected {len(args)} items")
        return tuple(
            _decode(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if origin is dict:
        if not isinstance(data, dict):
            raise _fail(path, "an object", data)
        _, vt = get_args(tp)
        return {k: _decode(vt, v, f"{path}.{k}") for k, v in data.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _decode_dataclass(tp, data, path)
        if issubclass(tp, enum.Enum):
            try:
                return tp(data)
            except ValueError:
                raise CaptureFormatError(
                    f"invalid capture at {path}: {data!r} is not a {tp.__name__}"
                ) from None
        if tp is float:
            if isinstance(data, (int, float)) and not isinstance(data, bool):
                return float(data)
            raise _fail(path, "a number", data)
        if tp is int:
            if isinstance(data, int) and not isinstance(data, bool):
                return data
            raise _fail(path, "an integer", data)
        if tp in (str, bool):
            if type(data) is tp:
                return data
            raise _fail(path, tp.__name__, data)
    raise CaptureFormatError(f"invalid capture at {path}: unsupported type {tp!r}")


def _decode_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(path, f"an object ({cls.__name__})", data)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in _fields(cls):
        if f.name in data:
            kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CaptureFormatError(f"invalid capture at {path}: missing field {f.name!r}")
    return cls(**kwargs)
