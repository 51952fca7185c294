"""The streaming layer reader on tars written by Python's tarfile."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from cachetrace.errors import LayerError
from cachetrace.model.outputs import FileType
from cachetrace.outputs.layer import content_digest, iter_layer, scan_layer
from tests.outputs.tars import M, gz, make_tar, zst

ELF_HOST = Path("/bin/ls")


def _members() -> list[M]:
    return [
        M("./", kind=tarfile.DIRTYPE, mode=0o755),
        M("./etc/", kind=tarfile.DIRTYPE, mode=0o755),
        M("./etc/hosts", b"127.0.0.1 localhost\n", uid=0, gid=0),
        M("./usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o4755, uid=1000, gid=100),
        M("./usr/bin/tool-link", kind=tarfile.SYMTYPE, link="tool", mode=0o777),
        M("./usr/bin/tool-hard", kind=tarfile.LNKTYPE, link="./usr/bin/tool"),
        M("./dev/null", kind=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        M("./dev/sda", kind=tarfile.BLKTYPE, devmajor=8, devminor=0),
        M("./run/fifo", kind=tarfile.FIFOTYPE),
        M("./var/lib/.wh.old", b""),
        M("./opt/app/.wh..wh..opq", b""),
        M("./" + "d" * 120 + "/" + "long-name-" * 12, b"deep"),
        M("./caps", b"x", pax={"SCHILY.xattr.security.capability": "\x01\x02"}),
    ]


@pytest.mark.parametrize("compress", [gz, zst, lambda b: b], ids=["gzip", "zstd", "none"])
def test_entries_types_and_digests(compress: object) -> None:
    raw = make_tar(_members())
    blob = compress(raw)  # type: ignore[operator]
    scan = scan_layer(io.BytesIO(blob), name="blob-1")
    assert scan.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert scan.uncompressed_size == len(raw)
    assert scan.compressed_size == len(blob)
    by_path = {e.path: e for e in scan.entries}
    assert by_path["/"].type is FileType.DIR
    hosts = by_path["/etc/hosts"]
    assert hosts.type is FileType.FILE
    assert hosts.sha256 == "sha256:" + hashlib.sha256(b"127.0.0.1 localhost\n").hexdigest()
    assert hosts.size == 20 and hosts.mode == 0o644 and hosts.mtime == 1_700_000_000
    tool = by_path["/usr/bin/tool"]
    assert (tool.mode, tool.uid, tool.gid) == (0o4755, 1000, 100)
    assert by_path["/usr/bin/tool-link"].type is FileType.SYMLINK
    assert by_path["/usr/bin/tool-link"].link_target == "tool"
    hard = by_path["/usr/bin/tool-hard"]
    assert hard.type is FileType.HARDLINK and hard.link_target == "/usr/bin/tool"
    assert hard.sha256 == tool.sha256 and hard.size == tool.size
    null = by_path["/dev/null"]
    assert (null.type, null.devmajor, null.devminor) == (FileType.CHAR_DEVICE, 1, 3)
    assert by_path["/dev/sda"].type is FileType.BLOCK_DEVICE
    assert by_path["/run/fifo"].type is FileType.FIFO
    assert by_path["/var/lib/old"].type is FileType.WHITEOUT
    assert by_path["/opt/app"].type is FileType.OPAQUE_WHITEOUT
    long = "/" + "d" * 120 + "/" + "long-name-" * 12
    assert by_path[long].sha256 == "sha256:" + hashlib.sha256(b"deep").hexdigest()
    assert by_path["/caps"].xattrs == {"security.capability": "0102"}
    assert scan.compression == {gz: "gzip", zst: "zstd"}.get(compress, "none")  # type: ignore[call-overload]


def test_gnu_format_and_base256_numbers() -> None:
    members = [M("./big-ids", b"data", uid=0o77777777 + 5, gid=3), M("./" + "n" * 150, b"x")]
    scan = scan_layer(io.BytesIO(make_tar(members, fmt=tarfile.GNU_FORMAT)))
    by_path = {e.path: e for e in scan.entries}
    assert by_path["/big-ids"].uid == 0o77777777 + 5
    assert "/" + "n" * 150 in by_path


def test_content_digest_ignores_mtime_and_order_but_not_content() -> None:
    a = [M("./x", b"1", mtime=1), M("./y", b"2", mtime=2), M("./d/", kind=tarfile.DIRTYPE)]
    b = [M("./d/", kind=tarfile.DIRTYPE, mtime=99), M("./y", b"2", mtime=50), M("./x", b"1")]
    c = [M("./x", b"1"), M("./y", b"3"), M("./d/", kind=tarfile.DIRTYPE)]
    d = [M("./x", b"1", mode=0o600), M("./y", b"2"), M("./d/", kind=tarfile.DIRTYPE)]
    scans = [scan_layer(io.BytesIO(gz(make_tar(m)))) for m in (a, b, c, d)]
    assert scans[0].diff_id != scans[1].diff_id
    assert scans[0].content_digest == scans[1].content_digest
    assert scans[2].content_digest != scans[0].content_digest
    assert scans[3].content_digest != scans[0].content_digest
    assert content_digest(reversed(scans[0].entries)) == scans[0].content_digest


def test_truncated_gzip_names_blob_and_offset() -> None:
    blob = gz(make_tar([M("./f", bytes(range(256)) * 400)]))
    with pytest.raises(LayerError) as err:
        scan_layer(io.BytesIO(blob[: len(blob) // 2]), name="sha256:abc")
    msg = str(err.value)
    assert "sha256:abc" in msg and "truncated" in msg
    assert f"reached {len(blob) // 2} bytes" in msg


def test_truncated_plain_tar_mid_member() -> None:
    raw = make_tar([M("./f", b"z" * 5000)])
    with pytest.raises(LayerError, match=r"truncated content of /f \(header at offset 0\)"):
        scan_layer(io.BytesIO(raw[:2000]), name="t")


def test_truncated_zstd() -> None:
    blob = zst(make_tar([M("./f", bytes(range(256)) * 400)]))
    with pytest.raises(LayerError, match="truncated zstd"):
        scan_layer(io.BytesIO(blob[:-5]), name="z")


def test_corrupt_header_and_not_a_tar() -> None:
    raw = bytearray(make_tar([M("./a", b"a"), M("./b", b"b")]))
    raw[1024 + 10] ^= 0xFF  # second header's name
    with pytest.raises(LayerError, match="checksum at offset 1024"):
        scan_layer(io.BytesIO(bytes(raw)), name="c")
    with pytest.raises(LayerError, match=r"checksum.*at offset 0"):
        scan_layer(io.BytesIO(b"hello world " * 100), name="text")
    with pytest.raises(LayerError, match="empty blob"):
        scan_layer(io.BytesIO(b""), name="empty")
    with pytest.raises(LayerError, match="corrupt gzip"):
        scan_layer(io.BytesIO(b"\x1f\x8b\x08\x00" + b"\xff" * 64), name="g")


def test_multi_member_gzip_and_trailing_padding() -> None:
    raw = make_tar([M("./a", b"a" * 3000), M("./b", b"b" * 3000)])
    cut = 1536
    blob = gz(raw[:cut]) + gz(raw[cut:]) + b"\0" * 100
    scan = scan_layer(io.BytesIO(blob))
    assert [e.path for e in scan.entries] == ["/a", "/b"]
    assert scan.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_media_type_overrides_magic() -> None:
    raw = make_tar([M("./a", b"a")])
    with pytest.raises(LayerError, match="gzip"):
        scan_layer(io.BytesIO(raw), media_type="application/vnd.oci.image.layer.v1.tar+gzip")
    scan = scan_layer(
        io.BytesIO(zst(raw)), media_type="application/vnd.oci.image.layer.v1.tar+zstd"
    )
    assert scan.compression == "zstd"


def test_binaries_found_while_streaming_and_capped() -> None:
    elf = ELF_HOST.read_bytes()
    raw = make_tar([M("./bin/ls", elf, mode=0o755), M("./etc/motd", b"\x7fELF but short")])
    scan = scan_layer(io.BytesIO(gz(raw)))
    assert [b.path for b in scan.binaries] == ["/bin/ls"]
    ls = scan.binaries[0]
    assert ls.arch == "amd64" and ls.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert not ls.truncated and ls.size == len(elf)
    capped = scan_layer(io.BytesIO(gz(raw)), binary_cap=4096)
    assert capped.binaries[0].truncated and capped.binaries[0].arch == "amd64"
    assert capped.binaries[0].size == len(elf)
    none = scan_layer(io.BytesIO(gz(raw)), want_binary=lambda p: p.startswith("/usr/"))
    assert none.binaries == ()
    assert none.content_digest == scan.content_digest


def test_iter_layer_yields_and_can_stop_early() -> None:
    raw = make_tar([M(f"./f{i}", b"x" * 100) for i in range(50)])
    it = iter_layer(io.BytesIO(gz(raw)), name="early")
    first = [next(it) for _ in range(3)]
    assert [e.path for e in first] == ["/f0", "/f1", "/f2"]
    it.close()  # stops the producer thread
    assert len(list(iter_layer(io.BytesIO(gz(raw))))) == 50


def test_stream_read_error_is_a_layer_error() -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError(5, "Input/output error")
            return bytes(512) if self.calls == 1 else b"\0" * 10

    with pytest.raises(LayerError, match="cannot read"):
        scan_layer(Broken(), name="broken", media_type="application/vnd.oci.image.layer.v1.tar")


def test_scan_layer_files_in_parallel_keeps_order(tmp_path: Path) -> None:
    from cachetrace.outputs.parallel import LayerBlob, scan_layer_files

    blobs = []
    for i in range(4):
        p = tmp_path / f"l{i}.tar.gz"
        p.write_bytes(gz(make_tar([M(f"./f{i}", bytes([i]) * 10000)])))
        blobs.append(LayerBlob(p))
    scans = scan_layer_files(blobs, workers=2)
    assert [s.entries[0].path for s in scans] == ["/f0", "/f1", "/f2", "/f3"]
    assert scans == scan_layer_files(blobs, workers=1)
    (tmp_path / "l2.tar.gz").write_bytes(b"\x1f\x8b" + b"\0" * 20)
    with pytest.raises(LayerError, match=r"l2\.tar\.gz"):
        scan_layer_files(blobs, workers=2)
    with pytest.raises(LayerError, match="cannot open"):
        scan_layer_files([LayerBlob(tmp_path / "missing")])
