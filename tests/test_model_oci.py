from __future__ import annotations

import pytest

from cachetrace.model.oci import Platform


def test_platform_round_trip() -> None:
    assert Platform.parse("linux/arm64/v8").spec == "linux/arm64/v8"
    assert Platform.parse("linux/amd64") == Platform("linux", "amd64")


@pytest.mark.parametrize("bad", ["", "linux", "linux//v7", "a/b/c/d"])
def test_platform_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        Platform.parse(bad)
