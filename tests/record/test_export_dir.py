from __future__ import annotations

from pathlib import Path

from cachetrace.model.cache import CacheExport, CacheLayer
from cachetrace.record.export_dir import locked_export_dir, prune


def test_lock_is_exclusive_and_stale_index_is_dropped(tmp_path: Path) -> None:
    root = tmp_path / "exports" / "default"
    (root / "export").mkdir(parents=True)
    (root / "export" / "index.json").write_text("{}")
    with locked_export_dir(root) as first:
        assert first == root / "export"
        assert not (first / "index.json").exists()
        with locked_export_dir(root) as second:
            assert second is None  # a concurrent record gets a temporary directory instead
    with locked_export_dir(root) as again:
        assert again == root / "export"


def test_prune_keeps_only_what_the_newest_export_references(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for name in ("aa", "bb", "cc", "dd", "ee"):
        (blobs / name).write_bytes(b"x" * 10)
    export = CacheExport("sha256:aa", "sha256:bb", layers=(CacheLayer(0, "sha256:cc"),))
    assert prune(tmp_path, export) == 20
    assert sorted(p.name for p in blobs.iterdir()) == ["aa", "bb", "cc"]
