from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine import Engine, start_engine


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The real Docker Engine with its embedded BuildKit (never a mock)."""
    yield start_engine()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test marked `engine` gets the fixture, so the daemon is up before it runs.
    for item in items:
        if item.get_closest_marker("engine") and "engine" not in getattr(item, "fixturenames", []):
            item.fixturenames.append("engine")  # type: ignore[attr-defined]
