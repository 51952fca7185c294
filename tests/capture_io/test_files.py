from __future__ import annotations

from pathlib import Path

import pytest

from cachetrace.capture_io.files import SCHEMA_VERSION, load_capture, write_atomic
from cachetrace.errors import CaptureFormatError


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "corrupt JSON"),
        (b"[1, 2]", "no schema_version"),
        (b'{"schema_version": 999}', "schema version 999 is not supported"),
        (f'{{"schema_version": {SCHEMA_VERSION}, "tool": 5}}'.encode(), "$.tool"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "c.json"
    p.write_bytes(content)
    with pytest.raises(CaptureFormatError) as exc:
        load_capture(p)
    assert message in str(exc.value)
    assert str(p) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="no such capture file"):
        load_capture(tmp_path / "nope.json")


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "c.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["c.json"]
