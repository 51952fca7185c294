"""Go string literal unquoting (``strconv.Unquote``) for build info keys and values."""

from __future__ import annotations

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def quoted_prefix(text: str) -> str | None:
    """The Go-quoted literal (``"…"`` or backquoted) that ``text`` starts with, or None."""
    if not text or text[0] not in '"`':
        return None
    quote = text[0]
    i = 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return text[: i + 1]
        if c == "\\" and quote == '"':
            i += 2
            continue
        if c == "\n":
            return None
        i += 1
    return None


def unquote(literal: str) -> str:
    """Decode a Go quoted string; raises ValueError on a malformed one."""
    if len(literal) < 2 or literal[0] != literal[-1] or literal[0] not in '"`':
        raise ValueError(f"not a Go string literal: {literal!r}")
    body = literal[1:-1]
    if literal[0] == "`":
        if "`" in body:
            raise ValueError("backquote inside a raw string")
        return body.replace("\r", "")
    out: list[str] = []
    raw = bytearray()  # \x and octal escapes are bytes; decode them as UTF-8 together

    def flush() -> None:
        if raw:
            out.append(raw.decode("utf-8", errors="replace"))
            raw.clear()

    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            if c == '"':
                raise ValueError("unescaped quote")
            flush()
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("trailing backslash")
        e = body[i + 1]
        if e in _SIMPLE:
            flush()
            out.append(_SIMPLE[e])
            i += 2
        elif e in "\\\"'":
            flush()
            out.append(e)
            i += 2
        elif e == "x":
            raw.append(int(_hex(body, i + 2, 2), 16))
            i += 4
        elif e in "uU":
            n = 4 if e == "u" else 8
            flush()
            code = int(_hex(body, i + 2, n), 16)
            if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError("invalid code point")
            out.append(chr(code))
            i += 2 + n
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise ValueError("bad octal escape")
            value = int(digits, 8)
            if value > 255:
                raise ValueError("octal escape above 255")
            raw.append(value)
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e}")
    flush()
    return "".join(out)


def _hex(body: str, start: int, n: int) -> str:
    digits = body[start : start + n]
    if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
        raise ValueError("bad hex escape")
    return digits
