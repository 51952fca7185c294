from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import pytest

from cachetrace.capture_io.codec import from_jsonable, to_jsonable
from cachetrace.errors import CaptureFormatError
from cachetrace.model import JSONValue
from cachetrace.model.oci import Descriptor, Platform


class Color(str, Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Inner:
    platform: Platform
    color: Color = Color.RED


@dataclass(frozen=True, slots=True)
class Outer:
    name: str
    count: int
    ratio: float
    flag: bool
    maybe: int | None
    items: tuple[Inner, ...]
    table: dict[str, tuple[str, ...]]
    raw: JSONValue
    desc: Descriptor | None = None
    extra: dict[str, int] = field(default_factory=dict)


def sample() -> Outer:
    return Outer(
        name="n",
        count=3,
        ratio=1.5,
        flag=True,
        maybe=None,
        items=(
            Inner(Platform("linux", "arm64", "v8")),
            Inner(Platform("linux", "amd64"), Color.BLUE),
        ),
        table={"a": ("x", "y")},
        raw={"Op": {"exec": {"meta": {"args": ["sh", "-c", "true"]}}}},
        desc=Descriptor("application/x", "sha256:00", 12, {"k": "v"}),
    )


def test_round_trip() -> None:
    value = sample()
    assert from_jsonable(Outer, to_jsonable(value)) == value


def test_int_accepted_for_float_and_defaults_fill_in() -> None:
    data = to_jsonable(sample())
    data["ratio"] = 2
    del data["extra"]
    out = from_jsonable(Outer, data)
    assert out.ratio == 2.0
    assert out.extra == {}


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.update(count="3"), "$.count"),
        (lambda d: d["items"][1].update(color="green"), "$.items[1].color"),
        (lambda d: d["items"][0]["platform"].pop("os"), "$.items[0].platform"),
        (lambda d: d.update(flag=1), "$.flag"),
        (lambda d: d.update(items={}), "$.items"),
    ],
)
def test_errors_name_the_path(mutate: object, where: str) -> None:
    data = to_jsonable(sample())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(CaptureFormatError) as exc:
        from_jsonable(Outer, data)
    assert where in str(exc.value)
    assert "\n" not in str(exc.value)
