"""``cachetrace inspect-binary`` and ``cachetrace inspect-layer`` through the real CLI."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from cachetrace.cli import main
from tests.outputs.headers import minimal_pe
from tests.outputs.legacy_elf import legacy_elf
from tests.outputs.tars import M, gz, make_tar


def test_inspect_binary_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "old"
    f.write_bytes(legacy_elf("go1.16.2", "path\tex.com/x\nmod\tex.com/x\tv1.0.0\th1:a=\n"))
    assert main(["inspect-binary", str(f)]) == 0
    out = capsys.readouterr().out
    assert "platform   ?/amd64" in out  # no GOOS line in this build info, SYSV OS ABI
    assert "go         go1.16.2  (pre-1.18 format)" in out
    assert "    mod\tex.com/x\tv1.0.0\th1:a=" in out
    assert main(["inspect-binary", "--json", str(f)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "elf" and doc["arch"] == "amd64" and doc["bits"] == 64
    assert doc["go"]["main"] == {
        "path": "ex.com/x",
        "version": "v1.0.0",
        "sum": "h1:a=",
        "replace": None,
    }


def test_inspect_binary_pe_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exe = tmp_path / "app.exe"
    exe.write_bytes(minimal_pe(0x8664, 3))
    assert main(["inspect-binary", str(exe)]) == 0
    out = capsys.readouterr().out
    assert "platform   windows/amd64" in out and "subsystem  windows-cui" in out
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path, message in ((text, "not an executable"), (tmp_path / "missing", "cannot read")):
        assert main(["inspect-binary", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF\x07\x01" + bytes(60))
    assert main(["inspect-binary", str(bad)]) == 2
    assert "corrupt ELF" in capsys.readouterr().err


def test_inspect_layer_text_json_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = make_tar(
        [
            M("./bin/", kind=tarfile.DIRTYPE, mode=0o755),
            M("./bin/tool", legacy_elf("go1.16", "path\tp\n"), mode=0o755),
            M("./bin/sh", kind=tarfile.SYMTYPE, link="tool", mode=0o777),
            M("./etc/.wh.gone", b""),
        ]
    )
    blob = tmp_path / "layer.tar.gz"
    blob.write_bytes(gz(raw))
    assert main(["inspect-layer", "--entries", str(blob)]) == 0
    out = capsys.readouterr().out
    assert f"diffID       sha256:{hashlib.sha256(raw).hexdigest()}" in out
    assert "compression  gzip" in out
    assert "    /bin/tool  elf ?/amd64 static  go1.16\n" in out
    assert "lrwxrwxrwx 0:0          0 /bin/sh -> tool" in out
    assert " /etc/gone" in out and "\n    w" in out
    assert main(["inspect-layer", "--json", str(blob)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["path"] for e in doc["entries"]] == ["/bin", "/bin/tool", "/bin/sh", "/etc/gone"]
    assert doc["entries"][3]["type"] == "whiteout"
    assert doc["binaries"][0]["go"]["go_version"] == "go1.16"


def test_inspect_layer_corrupt_blob_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blob = tmp_path / "cut.tar.gz"
    blob.write_bytes(gz(make_tar([M("./f", bytes(range(256)) * 200)]))[:300])
    assert main(["inspect-layer", str(blob)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(blob) in err and "truncated gzip stream" in err
