"""The outputs model follows the capture conventions: a LayerScan survives capture_io."""

from __future__ import annotations

import io

import orjson

from cachetrace.capture_io.codec import from_jsonable, to_jsonable
from cachetrace.model.outputs import FileType, LayerScan
from cachetrace.outputs.layer import scan_layer
from tests.outputs.legacy_elf import legacy_elf
from tests.outputs.tars import M, gz, make_tar


def test_layer_scan_round_trips_through_capture_io() -> None:
    modinfo = "path\tp\nmod\tp\tv1.0.0\th1:x=\ndep\ta\tv1\t\n=>\tb\tv2\th1:y=\nbuild\tGOOS=linux\n"
    raw = make_tar(
        [
            M("./bin/x", legacy_elf("go1.16", modinfo), mode=0o755),
            M("./c", b"1", pax={"SCHILY.xattr.user.k": "v"}, mtime=1.5),
            M("./etc/.wh..wh..opq", b""),
        ]
    )
    scan = scan_layer(io.BytesIO(gz(raw)), name="sha256:feed")
    assert scan.binaries[0].go is not None
    assert scan.binaries[0].go.deps[0].replace is not None
    assert {e.type for e in scan.entries} == {FileType.FILE, FileType.OPAQUE_WHITEOUT}
    back = from_jsonable(LayerScan, orjson.loads(orjson.dumps(to_jsonable(scan))))
    assert back == scan
