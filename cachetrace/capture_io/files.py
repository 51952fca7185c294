"""Capture files: orjson, a schema version, redaction on the way out, atomic writes.

A capture file is one JSON object, the ``Capture`` dataclass encoded field by field (see
``docs/capture-format.md``). Writing goes to a temporary file in the target directory, is
fsynced, then renamed over the target, so a reader never sees half a capture, and an
interrupted write leaves the old file (or none) in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from cachetrace.capture_io.codec import from_jsonable, to_jsonable
from cachetrace.capture_io.redact import Redactor
from cachetrace.errors import CaptureFormatError
from cachetrace.model.capture import Capture

SCHEMA_VERSION = 1


def capture_to_jsonable(capture: Capture) -> Any:
    """The capture as plain JSON values, redacted."""
    return to_jsonable(capture, Redactor())


def dumps_capture(capture: Capture) -> bytes:
    if capture.schema_version != SCHEMA_VERSION:
        raise CaptureFormatError(
            f"refusing to write schema version {capture.schema_version}; "
            f"this cachetrace writes {SCHEMA_VERSION}"
        )
    return orjson.dumps(capture_to_jsonable(capture), option=orjson.OPT_APPEND_NEWLINE)


def write_capture(capture: Capture, path: Path | str) -> Path:
    """Write atomically (temp file + fsync + rename); returns the final path."""
    target = Path(path)
    data = dumps_capture(capture)
    write_atomic(target, data)
    return target


def write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def loads_capture(data: bytes, name: str = "capture") -> Capture:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CaptureFormatError(f"{name}: not a capture file (corrupt JSON: {exc})") from None
    if not isinstance(raw, dict) or "schema_version" not in raw:
        raise CaptureFormatError(f"{name}: not a capture file (no schema_version)")
    version = raw["schema_version"]
    if version != SCHEMA_VERSION:
        raise CaptureFormatError(
            f"{name}: capture schema version {version!r} is not supported "
            f"(this cachetrace reads version {SCHEMA_VERSION})"
        )
    try:
        return from_jsonable(Capture, raw)
    except CaptureFormatError as exc:
        raise CaptureFormatError(f"{name}: {exc}") from None


def load_capture(path: Path | str) -> Capture:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CaptureFormatError(f"{p}: no such capture file") from None
    except IsADirectoryError:
        raise CaptureFormatError(f"{p}: is a directory, not a capture file") from None
    except OSError as exc:
        raise CaptureFormatError(f"{p}: cannot read ({exc.strerror})") from None
    return loads_capture(data, str(p))
