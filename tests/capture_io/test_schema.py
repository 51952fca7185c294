from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cachetrace.capture_io.files import load_capture
from cachetrace.capture_io.schema import capture_schema, render_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "docs" / "capture.schema.json"
CAPTURES = sorted((REPO / "captures").glob("**/*.json"))


def test_schema_file_is_generated_from_the_model() -> None:
    assert SCHEMA_FILE.read_text() == render_schema(), (
        "docs/capture.schema.json is stale: run `make schema`"
    )


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(capture_schema())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(capture_schema())


@pytest.mark.parametrize("path", CAPTURES, ids=[str(p.relative_to(REPO)) for p in CAPTURES])
def test_every_recorded_capture_validates_and_loads(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    validator.validate(json.loads(path.read_bytes()))
    cap = load_capture(path)
    assert cap.builds
