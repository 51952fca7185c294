"""Bytes exactly as Go's ``encoding/json.Marshal`` writes them, for recomputing BuildKit digests.

BuildKit hashes ``json.Marshal`` output, so a recomputed cache key is only right if every
byte is. What this module reproduces (Go 1.22+, which is what builds current engines):

- compact output, no spaces; objects in the order given (a Go struct's field order), except
  :class:`GoMap`, whose keys are sorted as Go sorts ``map[string]T`` keys (bytewise);
- strings: ``"`` and ``\\`` escaped; ``\\b \\f \\n \\r \\t`` as short escapes, other bytes below
  0x20 as ``\\u00XX``; ``<``, ``>``, ``&`` as ``\\u003c \\u003e \\u0026`` (HTML-safe);
  U+2028 and U+2029 as ``\\u2028 \\u2029``; each invalid UTF-8 sequence as ``\\ufffd``, exactly
  where Go's UTF-8 decoder gives up (one replacement per maximal invalid prefix, as
  ``utf8.DecodeRuneInString`` steps); DEL (0x7f) and other non-ASCII runes as they are;
- ``bytes`` values are taken as a Go ``string`` holding those bytes (so invalid UTF-8 can be
  expressed); a Python ``str`` is its UTF-8 encoding, lone surrogates included
  (``surrogatepass``), which Go then sees as invalid bytes;
- integers as integers (any size), ``bool`` as ``true``/``false``, ``None`` as ``null``;
- floats as Go formats ``float64`` (shortest round-trip digits; exponent form below 1e-6 and
  from 1e21 on, with ``e-07`` written ``e-7``); NaN and infinities are refused like Go does.

Lists and tuples are arrays. Anything else is refused with ``TypeError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["GoMap", "dumps"]


class GoMap(dict[str, Any]):
    """A Go ``map[string]T``: encoded with its keys sorted, unlike a struct (insertion order)."""


_SHORT = {
    0x22: b'\\"',
    0x5C: b"\\\\",
    0x08: b"\\b",
    0x0C: b"\\f",
    0x0A: b"\\n",
    0x0D: b"\\r",
    0x09: b"\\t",
    0x3C: b"\\u003c",
    0x3E: b"\\u003e",
    0x26: b"\\u0026",
}
_HEX = b"0123456789abcdef"
_REPLACEMENT = b"\\ufffd"


def _rune_length(data: bytes, i: int) -> int:
    """Length of the valid UTF-8 rune starting at ``data[i]`` (a non-ASCII byte), or 0.

    The same acceptance table as Go's ``unicode/utf8``: no overlongs, no surrogates, nothing
    above U+10FFFF. A 0 means Go's decoder returns ``RuneError`` of width 1 here.
    """
    b0 = data[i]
    n = len(data)
    if 0xC2 <= b0 <= 0xDF:
        size, lo, hi = 2, 0x80, 0xBF
    elif b0 == 0xE0:
        size, lo, hi = 3, 0xA0, 0xBF
    elif 0xE1 <= b0 <= 0xEC or 0xEE <= b0 <= 0xEF:
        size, lo, hi = 3, 0x80, 0xBF
    elif b0 == 0xED:
        size, lo, hi = 3, 0x80, 0x9F
    elif b0 == 0xF0:
        size, lo, hi = 4, 0x90, 0xBF
    elif 0xF1 <= b0 <= 0xF3:
        size, lo, hi = 4, 0x80, 0xBF
    elif b0 == 0xF4:
        size, lo, hi = 4, 0x80, 0x8F
    else:
        return 0
    if i + size > n or not lo <= data[i + 1] <= hi:
        return 0
    for k in range(2, size):
        if not 0x80 <= data[i + k] <= 0xBF:
            return 0
    return size


def _string(data: bytes, out: bytearray) -> None:
    out.append(0x22)
    i = 0
    n = len(data)
    start = 0
    while i < n:
        b = data[i]
        if b < 0x80:
            if b >= 0x20 and b not in _SHORT:
                i += 1
                continue
            out += data[start:i]
            short = _SHORT.get(b)
            if short is not None:
                out += short
            else:
                out += b"\\u00" + bytes((_HEX[b >> 4], _HEX[b & 0xF]))
            i += 1
            start = i
            continue
        size = _rune_length(data, i)
        if size == 0:
            out += data[start:i]
            out += _REPLACEMENT
            i += 1
            start = i
            continue
        # U+2028 is E2 80 A8, U+2029 is E2 80 A9.
        if size == 3 and b == 0xE2 and data[i + 1] == 0x80 and data[i + 2] in (0xA8, 0xA9):
            out += data[start:i]
            out += b"\\u2028" if data[i + 2] == 0xA8 else b"\\u2029"
            i += 3
            start = i
            continue
        i += size
    out += data[start:]
    out.append(0x22)


def _float(value: float) -> bytes:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value!r}")
    if value == 0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as Go's FormatFloat(f, _, -1, 64).
    parsed = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in parsed.digits)
    point = len(digits) + int(parsed.exponent)  # decimal point position within `digits`
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        exp = point - 1
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        # Go writes at least two exponent digits, then turns "e-07" into "e-7".
        exp_text = f"{'-' if exp < 0 else '+'}{abs(exp):02d}"
        if exp_text[0] == "-" and len(exp_text) == 3 and exp_text[1] == "0":
            exp_text = "-" + exp_text[2]
        return f"{sign}{body}e{exp_text}".encode()
    if point <= 0:
        body = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        body = digits + "0" * (point - len(digits))
    else:
        body = digits[:point] + "." + digits[point:]
    return f"{sign}{body}".encode()


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out += b"null"
    elif value is True:
        out += b"true"
    elif value is False:
        out += b"false"
    elif isinstance(value, str):
        _string(value.encode("utf-8", "surrogatepass"), out)
    elif isinstance(value, bytes | bytearray):
        _string(bytes(value), out)
    elif isinstance(value, int):
        out += str(int(value)).encode()
    elif isinstance(value, float):
        out += _float(value)
    elif isinstance(value, Mapping):
        keys = list(value.keys())
        for key in keys:
            if not isinstance(key, str):
                raise TypeError(f"json: object keys must be str, not {type(key).__name__}")
        if isinstance(value, GoMap):
            keys.sort(key=lambda k: k.encode("utf-8", "surrogatepass"))
        out.append(0x7B)
        for n, key in enumerate(keys):
            if n:
                out.append(0x2C)
            _string(key.encode("utf-8", "surrogatepass"), out)
            out.append(0x3A)
            _encode(value[key], out)
        out.append(0x7D)
    elif isinstance(value, Sequence):
        out.append(0x5B)
        for n, item in enumerate(value):
            if n:
                out.append(0x2C)
            _encode(item, out)
        out.append(0x5D)
    else:
        raise TypeError(f"json: unsupported type: {type(value).__name__}")


class _NeedsByteEncoder(Exception):
    """The fast path cannot encode this value exactly (a float, bytes, an odd type)."""


def _plain(value: Any) -> Any:
    """``value`` as dict/list/str/int/bool/None for the stdlib encoder, GoMap keys sorted."""
    if value is None or isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, Mapping):
        keys = list(value.keys())
        if not all(isinstance(k, str) for k in keys):
            raise _NeedsByteEncoder
        if isinstance(value, GoMap):
            keys.sort()  # code point order = UTF-8 byte order (surrogates fall back later)
        return {k: _plain(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise _NeedsByteEncoder


# Go escapes these in strings (and object keys); the stdlib encoder does not. Outside strings
# JSON text never holds them, so replacing them in the whole output escapes exactly the strings.
_GO_EXTRA_ESCAPES = (
    ("&", "\\u0026"),  # no replacement holds any of these characters: order is free
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def dumps(value: Any, *, plain: bool = False) -> bytes:
    """Encode ``value`` as Go's ``json.Marshal`` would encode the equivalent Go value.

    ``plain=True`` promises that ``value`` holds only dicts (in struct order), lists, str,
    int, bool and None (no floats, bytes, tuples or :class:`GoMap`), which saves a walk.
    """
    try:
        # Fast path: the C encoder writes what Go writes for valid strings, ints, bools and
        # nulls (same short escapes, lowercase \u00XX for other control bytes, DEL as is),
        # apart from the HTML and line-separator escapes added here.
        text = json.dumps(
            value if plain else _plain(value), ensure_ascii=False, separators=(",", ":")
        )
        for char, escaped in _GO_EXTRA_ESCAPES:
            if char in text:
                text = text.replace(char, escaped)
        return text.encode("utf-8")
    except (_NeedsByteEncoder, UnicodeEncodeError):
        pass
    out = bytearray()
    _encode(value, out)
    return bytes(out)
