"""The JSON Schema (draft 2020-12) of capture files, generated from the model's type hints.

``docs/capture.schema.json`` is this function's output, checked in; a test regenerates it and
fails on any difference, and validates every capture in ``captures/`` against it.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Union, get_args, get_origin

from cachetrace.model.capture import Capture

SCHEMA_ID = "https://cachetrace.invalid/schemas/capture-v1.json"


def capture_schema() -> dict[str, Any]:
    from cachetrace.capture_io.files import SCHEMA_VERSION

    defs: dict[str, Any] = {}
    root = _ref(Capture, defs)
    top = dict(defs[_def_name(Capture)])
    top["properties"] = dict(top["properties"])
    top["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    defs[_def_name(Capture)] = top
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "cachetrace capture",
        "$ref": root["$ref"],
        "$defs": dict(sorted(defs.items())),
    }


def _def_name(cls: type) -> str:
    """``module.Class`` (the model has two ``SourceFile`` types, in ``build`` and ``llb``)."""
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def _ref(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    name = _def_name(cls)
    if name not in defs:
        defs[name] = {}  # placeholder against recursion
        hints = typing.get_type_hints(cls)
        props: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(cls):
            props[f.name] = _schema(hints[f.name], defs)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        defs[name] = {
            "type": "object",
            **({"description": " ".join(doc.split())} if doc else {}),
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }
    return {"$ref": f"#/$defs/{name}"}


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if tp is Any:
        return {}
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(a, defs) for a in get_args(tp)]}
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0], defs)}
        return {
            "type": "array",
            "prefixItems": [_schema(a, defs) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(get_args(tp)[1], defs)}
    if tp is type(None):
        return {"type": "null"}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _ref(tp, defs)
        if issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
        if tp in simple:
            return {"type": simple[tp]}
    raise TypeError(f"no JSON Schema for {tp!r}")


def render_schema() -> str:
    import json

    return json.dumps(capture_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":  # python -m cachetrace.capture_io.schema > docs/capture.schema.json
    print(render_schema(), end="")
