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
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Protocol, TypeVar, Union, get_args, get_origin

from cachetrace.errors import CaptureFormatError
from cachetrace.model.outputs import FileEntry

T = TypeVar("T")

_NONE = type(None)


# Model types handed to orjson as they are: they hold no free text that could carry a secret
# (a layer's file entry is a path, a mode, a digest), orjson writes dataclasses and str Enums
# exactly as ``to_jsonable`` would, and there are tens of thousands of them per capture.
PASSTHROUGH: frozenset[type] = frozenset({FileEntry})


def to_jsonable(value: Any, scrub: Scrubber | None = None) -> Any:
    """JSON values for any model object, ready for ``orjson.dumps``.

    Everything becomes dict/list/str/int/float/bool/None except ``PASSTHROUGH`` dataclasses,
    which orjson serialises natively (field by field, the same shape). With a ``scrub``, every
    other string passes through ``scrub.text`` and every entry of a mapping (build args, env
    maps, raw JSON objects; not dataclass fields, whose names are ours) through
    ``scrub.is_secret_entry``, so secrets are removed while the tree is built.
    """
    t = type(value)
    if t in PASSTHROUGH:
        return value
    if t is str:
        return scrub.text(value) if scrub is not None else value
    if value is None or t is int or t is float or t is bool:
        return value
    names = _dataclass_names(typing.cast(Any, t))
    if names is not None:
        return {n: to_jsonable(getattr(value, n), scrub) for n in names}
    if t is tuple or t is list:
        return [to_jsonable(v, scrub) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            if scrub is not None and type(v) is str and scrub.is_secret_entry(key, v):
                out[key] = scrub.redacted
            else:
                out[key] = to_jsonable(v, scrub)
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, scrub) for v in value]
    return value


@cache
def _dataclass_names(t: type) -> tuple[str, ...] | None:
    if not dataclasses.is_dataclass(t):
        return None
    return tuple(f.name for f in _fields(t))


class Scrubber(Protocol):
    """What ``to_jsonable`` needs from a redaction policy (see ``capture_io.redact``)."""

    redacted: str

    def text(self, value: str) -> str: ...

    def is_secret_entry(self, key: str, value: str) -> bool: ...


def from_jsonable(cls: type[T], data: Any, path: str = "$") -> T:
    """Rebuild ``cls`` from plain JSON values; ``CaptureFormatError`` names the bad path.

    A decoder compiled once per type does the work; only when it meets a value that does not
    fit does the slower, path-tracking decoder run again to name where.
    """
    try:
        return typing.cast(T, _compiled(typing.cast(Any, cls))(data))
    except (_Misfit, TypeError, ValueError):
        pass
    result = _decode(cls, data, path)  # raises CaptureFormatError naming the path
    return typing.cast(T, result)


class _Misfit(Exception):
    """A value that does not fit its type (the fast decoder's signal; never escapes)."""


Decoder = Callable[[Any], Any]


def _identity(data: Any) -> Any:
    return data


@cache
def _compiled(tp: Any) -> Decoder:
    if tp is Any:
        return _identity
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        options = [_lazy(a) for a in args if a is not _NONE]
        nullable = _NONE in args

        def union(data: Any) -> Any:
            if data is None:
                if nullable:
                    return None
                raise _Misfit
            for option in options:
                try:
                    return option(data)
                except (_Misfit, TypeError, ValueError):
                    continue
            raise _Misfit

        if len(options) == 1:
            only = options[0]

            def optional(data: Any) -> Any:
                if data is None:
                    if nullable:
                        return None
                    raise _Misfit
                return only(data)

            return optional
        return union
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _lazy(args[0])

            def homogeneous(data: Any) -> Any:
                if type(data) is not list:
                    raise _Misfit
                return tuple(data) if item is _identity else tuple(map(item, data))

            return homogeneous
        items = [_lazy(a) for a in args]

        def fixed(data: Any) -> Any:
            if type(data) is not list or len(data) != len(items):
                raise _Misfit
            return tuple(f(v) for f, v in zip(items, data, strict=True))

        return fixed
    if origin is dict:
        value = _lazy(get_args(tp)[1])

        def mapping(data: Any) -> Any:
            if type(data) is not dict:
                raise _Misfit
            return {k: value(v) for k, v in data.items()}

        return mapping
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass_decoder(tp)
        if issubclass(tp, enum.Enum):
            return tp
        if tp is float:

            def number(data: Any) -> Any:
                t = type(data)
                if t is float:
                    return data
                if t is int:
                    return float(data)
                raise _Misfit

            return number
        if tp in (str, int, bool):

            def exact(data: Any, _t: type = tp) -> Any:
                if type(data) is not _t:
                    raise _Misfit
                return data

            return exact
    raise CaptureFormatError(f"unsupported type in the model: {tp!r}")


def _lazy(tp: Any) -> Decoder:
    """The decoder of ``tp``, resolved at first use (dataclasses may refer to themselves)."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):

        def deferred(data: Any) -> Any:
            return _compiled(tp)(data)

        return deferred
    return _compiled(tp)


def _dataclass_decoder(cls: type) -> Decoder:
    hints = _hints(cls)
    fields = [
        (
            f.name,
            _lazy(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in _fields(cls)
    ]

    def decode(data: Any) -> Any:
        if type(data) is not dict:
            raise _Misfit
        kwargs: dict[str, Any] = {}
        for name, decoder, required in fields:
            if name in data:
                kwargs[name] = decoder(data[name])
            elif required:
                raise _Misfit
        return cls(**kwargs)

    return decode


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
