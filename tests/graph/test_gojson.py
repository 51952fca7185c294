"""gojson against what Go's encoding/json really wrote (tests/graph/data/gojson/truth.json).

truth.json is produced by ``truth.go`` in the ``golang:local`` image from ``cases.in.json``
(see scripts/record_key_fixtures.sh); nothing in it is written by hand.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachetrace.graph import gojson
from cachetrace.graph.gojson import GoMap, dumps

DATA = Path(__file__).parent / "data" / "gojson"
TRUTH: dict[str, Any] = json.loads((DATA / "truth.json").read_text(encoding="utf-8"))
CASES: dict[str, Any] = json.loads((DATA / "cases.in.json").read_text(encoding="utf-8"))
# Go prints -0.0 back as -0, which Python reads as the int 0: pair floats by position.
FLOATS = list(zip(CASES["floats"], (c["out"] for c in TRUTH["floats"]), strict=True))


@pytest.mark.parametrize("case", TRUTH["strings"], ids=lambda c: c["in"] or "empty")
def test_strings_as_go_writes_them(case: dict[str, str]) -> None:
    raw = base64.b64decode(case["in"])
    assert dumps(raw) == case["out"].encode()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert dumps(text) == case["out"].encode()


@pytest.mark.parametrize(("value", "go"), FLOATS, ids=[repr(f) for f, _ in FLOATS])
def test_floats_as_go_writes_them(value: float, go: str) -> None:
    assert dumps(value) == go.encode()


@pytest.mark.parametrize("case", TRUTH["ints"], ids=lambda c: str(c["in"]))
def test_ints_as_go_writes_them(case: dict[str, Any]) -> None:
    assert dumps(int(case["in"])) == case["out"].encode()


def test_struct_keeps_field_order_and_map_sorts_keys() -> None:
    struct = {
        "name": "a<b",
        "neg": -1,
        "list": ["x"],
        "empty": {},
        "labels": GoMap({"z": "1", "a": "2", "B": "3", "é": "4"}),
        "NoTag": "",
        "NilList": None,
    }
    assert dumps(struct) == TRUTH["struct"].encode()
    assert dumps(GoMap({"b": 1, "a": 2, "A": 3, "ä": 4, "aa": 5})) == TRUTH["map"].encode()


def test_lone_surrogate_is_invalid_utf8_for_go() -> None:
    # json.loads("\"\\ud800\"") gives a lone surrogate; Go would see bytes ED A0 80.
    assert dumps("\ud800") == dumps(b"\xed\xa0\x80") == b'"\\ufffd\\ufffd\\ufffd"'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object(), {1: "x"}])
def test_refuses_what_go_cannot_encode(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        dumps(bad)


def test_bool_none_and_nesting() -> None:
    assert dumps([True, False, None, (1, [2])]) == b"[true,false,null,[1,[2]]]"


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(alphabet=st.characters(codec="utf-8"))
    | st.sampled_from(["\ud800x", "<a&b>", "\u2028\u2029", "\x00\x1f\x7f\x08\x0c", 'q"\\/'])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4).map(GoMap)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_fast_path_writes_what_the_byte_encoder_writes(value: Any) -> None:
    slow = bytearray()
    gojson._encode(value, slow)
    assert dumps(value) == bytes(slow)
