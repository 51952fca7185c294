"""Applying a layer chain: whiteouts, opaque directories, replacement, symlink lookups."""

from __future__ import annotations

import io
import tarfile

from cachetrace.model.outputs import FileEntry, FileType
from cachetrace.outputs.filesystem import apply_layers
from cachetrace.outputs.layer import scan_layer
from tests.outputs.tars import M, gz, make_tar


def _layer(members: list[M]) -> tuple[FileEntry, ...]:
    return scan_layer(io.BytesIO(gz(make_tar(members)))).entries


D = tarfile.DIRTYPE
L = tarfile.SYMTYPE

BASE = _layer(
    [
        M("./usr/", kind=D),
        M("./usr/lib64/", kind=D),
        M("./usr/lib64/ld-linux-x86-64.so.2", b"loader"),
        M("./lib64", kind=L, link="usr/lib64"),
        M("./etc/", kind=D),
        M("./etc/conf.d/", kind=D),
        M("./etc/conf.d/a", b"a"),
        M("./etc/conf.d/b", b"b"),
        M("./etc/keep", b"k"),
        M("./bin/", kind=D),
        M("./bin/sh", b"#!"),
        M("./loop1", kind=L, link="/loop2"),
        M("./loop2", kind=L, link="loop1"),
        M("./dangling", kind=L, link="/nowhere"),
    ]
)


def test_interpreter_through_merged_usr_symlink() -> None:
    fs = apply_layers([BASE])
    assert fs.exists("/lib64/ld-linux-x86-64.so.2")
    assert fs.resolve("/lib64/ld-linux-x86-64.so.2") == "/usr/lib64/ld-linux-x86-64.so.2"
    entry = fs.entry("/lib64/ld-linux-x86-64.so.2")
    assert entry is not None and entry.type is FileType.FILE and entry.size == 6
    link = fs.entry("/lib64", follow_symlinks=False)
    assert link is not None and link.type is FileType.SYMLINK
    # ".." after a symlink is physical, as in the kernel: /lib64/.. is /usr
    assert not fs.exists("/lib64/../etc/keep")
    assert fs.exists("/lib64/../lib64/ld-linux-x86-64.so.2")
    assert fs.resolve("/lib64/..") == "/usr"
    assert not fs.exists("/lib/ld-musl-x86_64.so.1")


def test_whiteout_removes_lower_path_and_children() -> None:
    top = _layer([M("./usr/.wh.lib64", b""), M("./etc/.wh.conf.d", b"")])
    fs = apply_layers([BASE, top])
    assert not fs.exists("/lib64/ld-linux-x86-64.so.2")
    assert fs.exists("/lib64", follow_symlinks=False)  # the link stays, now dangling
    assert not fs.exists("/lib64")
    assert not fs.exists("/etc/conf.d/a")
    assert fs.exists("/etc/keep")


def test_opaque_directory_hides_lower_children_only() -> None:
    top = _layer([M("./etc/", kind=D), M("./etc/.wh..wh..opq", b""), M("./etc/new", b"n")])
    fs = apply_layers([BASE, top])
    assert fs.exists("/etc/new")
    assert not fs.exists("/etc/keep")
    assert not fs.exists("/etc/conf.d")
    assert fs.exists("/bin/sh")


def test_file_replaces_directory_and_directory_merges() -> None:
    top = _layer([M("./etc", b"now a file"), M("./bin/", kind=D, mode=0o700), M("./bin/ls", b"l")])
    fs = apply_layers([BASE, top])
    etc = fs.entry("/etc")
    assert etc is not None and etc.type is FileType.FILE
    assert not fs.exists("/etc/keep")
    assert fs.exists("/bin/sh") and fs.exists("/bin/ls")
    bin_dir = fs.entry("/bin")
    assert bin_dir is not None and bin_dir.mode == 0o700


def test_loops_and_dangling_links_do_not_exist() -> None:
    fs = apply_layers([BASE])
    assert fs.resolve("/loop1") is None
    assert not fs.exists("/dangling")
    assert fs.exists("/dangling", follow_symlinks=False)
    assert not fs.exists("/bin/sh/x")  # a file used as a directory


def test_implied_parents_and_listing() -> None:
    fs = apply_layers([_layer([M("./a/b/c", b"c")])])
    a = fs.entry("/a")
    assert a is not None and a.type is FileType.DIR
    assert list(fs.paths()) == ["/", "/a", "/a/b", "/a/b/c"]
    assert len(fs) == 4
