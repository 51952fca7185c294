"""Hypothesis fuzzing of every parser in cachetrace.outputs.

Properties: the only exception is our typed error (BinaryFormatError for executables and
build info, LayerError for layers), every input finishes within the deadline (no hang), and
the traced memory of one call stays under a bound tied to the input size. For valid random
tars the reader must agree with Python's tarfile and the content digest must not depend on
member order or mtimes.

Examples per test: ``CACHETRACE_FUZZ_EXAMPLES`` (default 200, so CI stays quick). A long run
with ``CACHETRACE_FUZZ_EXAMPLES=5000 pytest tests/outputs/test_fuzz.py
--hypothesis-show-statistics`` (2026-11-27): 6 properties x 5,000 inputs = 30,000 inputs,
0 failing, 249 s on 2 cores (plus the bomb and truncation cases below).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import posixpath
import tarfile
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import pyzstd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachetrace.errors import BinaryFormatError, LayerError
from cachetrace.model.outputs import FileType
from cachetrace.outputs.binary import inspect_binary
from cachetrace.outputs.buildinfo import parse_buildinfo, parse_modinfo
from cachetrace.outputs.layer import scan_layer
from tests.outputs.headers import minimal_macho, minimal_pe
from tests.outputs.legacy_elf import legacy_elf
from tests.outputs.tars import M, gz, make_tar, zst

EXAMPLES = int(os.environ.get("CACHETRACE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=5000,  # ms per input: a hang or a quadratic blow-up fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T = TypeVar("T")

_HOST = Path("/bin/ls").read_bytes()[:65536]
SEEDS = [
    _HOST,
    legacy_elf("go1.16.15", "path\tp\nmod\tp\tv1.0.0\th1:x=\nbuild\tGOOS=linux\n"),
    legacy_elf("go1.15", "path\tq\n", big=True, bits=32),
    minimal_pe(),
    minimal_pe(0x14C, 2, pe32_plus=False),
    minimal_macho(),
    b"\xca\xfe\xba\xbe\x00\x00\x00\x01" + bytes(12) + minimal_macho(),
]


def _bounded(fn: Callable[[], T], limit: int) -> T:
    """Run ``fn`` under tracemalloc and check its peak allocation stays under ``limit``."""
    tracemalloc.start()
    try:
        return fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < limit, f"peak {peak} bytes >= {limit}"


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 12))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "word"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, 1]))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=64))
        else:  # a large number where a header field may be
            data[pos : pos + 8] = draw(st.sampled_from([b"\xff" * 8, b"\x00" * 8, b"\x7f" * 8]))
    return bytes(data)


MAGICS = [b"\x7fELF\x01\x01\x01", b"\x7fELF\x02\x02\x01", b"\x7fELF\x02\x01\x01", b"MZ"]
MAGICS += [b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xce", b"\xca\xfe\xba\xbe\x00\x00\x00\x02"]
executables = st.one_of(
    mutated(SEEDS),
    st.builds(lambda m, b: m + b, st.sampled_from(MAGICS), st.binary(max_size=4096)),
    st.binary(max_size=2048),
)


@FUZZ
@given(executables)
def test_binary_parsers_raise_only_typed_errors(data: bytes) -> None:
    def run() -> None:
        try:
            info = inspect_binary(data, "fuzz")
        except BinaryFormatError:
            return
        if info is not None:
            assert info.arch and info.bits in (0, 32, 64)

    _bounded(run, 8 * len(data) + 4 * 1024 * 1024)


@FUZZ
@given(
    st.one_of(
        mutated(SEEDS[1:3]),
        st.builds(
            lambda pre, flags, body: pre + b"\xff Go buildinf:" + flags + body,
            st.binary(max_size=64),
            st.binary(min_size=2, max_size=2),
            st.binary(max_size=512),
        ),
    )
)
def test_buildinfo_parser_raises_only_typed_errors(data: bytes) -> None:
    def run() -> None:
        with contextlib.suppress(BinaryFormatError):
            parse_buildinfo(data)

    _bounded(run, 8 * len(data) + 4 * 1024 * 1024)


@FUZZ
@given(
    st.lists(
        st.sampled_from(["build\t", "dep\t", "mod\t", "=>\t", "path\t", "\t", "\n", "="])
        | st.text(alphabet='"`\\ abcxu0=/.', max_size=6)
    ).map("".join)
)
def test_modinfo_text_raises_only_typed_errors(text: str) -> None:
    with contextlib.suppress(BinaryFormatError):
        parse_modinfo("go1.24.0", text)


# ---- layers ---------------------------------------------------------------------------

names = st.lists(
    st.sampled_from(["a", "b", "dir", ".wh.a", ".wh..wh..opq", "x" * 60, "é", "..", "."]),
    min_size=1,
    max_size=4,
).map("/".join)
member = st.builds(
    M,
    name=names,
    data=st.binary(max_size=3000),
    kind=st.sampled_from(
        [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE]
    ),
    mode=st.integers(0, 0o7777),
    uid=st.integers(0, 70000),
    gid=st.integers(0, 70000),
    mtime=st.integers(0, 2**33),
    link=st.sampled_from(["", "a", "/etc/x", "../up"]),
    devmajor=st.integers(0, 255),
    devminor=st.integers(0, 255),
    pax=st.sampled_from([{}, {"SCHILY.xattr.user.k": "v"}, {"comment": "c"}]),
)
formats = st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
tars = st.builds(make_tar, st.lists(member, max_size=12), fmt=formats)
compressions = st.sampled_from([gz, zst, lambda b: b])


def _expected_sizes(raw: bytes) -> list[int]:
    """Content sizes per entry as tarfile sees them (whiteout markers carry no content)."""
    sizes = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf.getmembers():
            base = posixpath.basename(posixpath.normpath("/" + m.name))
            if base.startswith(".wh..wh.") and base != ".wh..wh..opq":
                continue  # AUFS bookkeeping: not an entry
            sizes.append(m.size if m.isreg() and not base.startswith(".wh.") else 0)
    return sizes


@FUZZ
@given(st.lists(member, max_size=12), formats, compressions)
def test_random_tars_agree_with_tarfile(
    members: list[M], fmt: int, compress: Callable[[bytes], bytes]
) -> None:
    raw = make_tar(members, fmt=fmt)
    scan = _bounded(lambda: scan_layer(io.BytesIO(compress(raw)), name="fuzz"), 16 << 20)
    assert [e.size for e in scan.entries] == _expected_sizes(raw)
    assert scan.uncompressed_size == len(raw)
    assert all(e.sha256 is not None for e in scan.entries if e.type is FileType.FILE)


@FUZZ
@given(st.lists(member, max_size=10, unique_by=lambda m: m.name), st.randoms())
def test_content_digest_ignores_order_and_mtime(members: list[M], rnd: object) -> None:
    shuffled = [
        M(
            m.name,
            m.data,
            m.kind,
            m.mode,
            m.uid,
            m.gid,
            m.mtime + 1000,
            m.link,
            m.devmajor,
            m.devminor,
            m.pax,
        )
        for m in members
    ]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a = scan_layer(io.BytesIO(make_tar(members)))
    b = scan_layer(io.BytesIO(make_tar(shuffled)))
    assert a.content_digest == b.content_digest


@FUZZ
@given(st.data())
def test_mutated_layer_blobs_raise_only_layer_error(data: st.DataObject) -> None:
    raw = make_tar(data.draw(st.lists(member, max_size=8)), fmt=data.draw(formats))
    compress = data.draw(st.sampled_from([gz, zst, lambda b: b, _gzip_two_members]))
    blob = data.draw(mutated([compress(raw)]))

    def run() -> None:
        try:
            scan_layer(io.BytesIO(blob), name="fuzz")
        except LayerError as exc:
            assert "fuzz" in str(exc)

    _bounded(run, 16 << 20)


def _gzip_two_members(raw: bytes) -> bytes:
    half = len(raw) // 2
    return gzip.compress(raw[:half], mtime=0) + gzip.compress(raw[half:], mtime=0)


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_bomb_stays_bounded(codec: str) -> None:
    """1 GiB of zeros in a small compressed stream: memory stays near the chunk bounds."""
    hdr = bytearray(make_tar([M("./big", b"")])[:512])
    hdr[124:136] = b"%011o\0" % (1 << 30)  # a regular file claiming 1 GiB
    hdr[148:156] = b"        "
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    comp: zlib._Compress | pyzstd.ZstdCompressor = (
        zlib.compressobj(9, zlib.DEFLATED, 31) if codec == "gzip" else pyzstd.ZstdCompressor()
    )
    zeros = bytes(16 << 20)
    parts = [comp.compress(bytes(hdr))]
    parts += [comp.compress(zeros) for _ in range(64)]
    parts += [comp.compress(bytes(1024)), comp.flush()]
    blob = b"".join(parts)
    assert len(blob) < 2 << 20
    scan = _bounded(lambda: scan_layer(io.BytesIO(blob), name="bomb"), 32 << 20)
    assert scan.entries[0].size == 1 << 30
    assert scan.uncompressed_size == 512 + (1 << 30) + 1024


@pytest.mark.parametrize("cut", [1, 100, 511, 513, 1000])
def test_every_truncation_point_is_a_layer_error(cut: int) -> None:
    raw = make_tar([M("./a", b"a" * 700), M("./b", b"b" * 10)])
    with pytest.raises(LayerError, match=r"truncated|empty"):
        scan_layer(io.BytesIO(raw[:cut]), name="cut")
