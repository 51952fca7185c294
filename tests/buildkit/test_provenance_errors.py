"""Malformed provenance gives one ProtocolError line naming where, never a traceback."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cachetrace.buildkit.provenance import decode_provenance
from cachetrace.errors import ProtocolError
from cachetrace.model.llb import FileActionKind, OpKind, ProvenanceMode

DATA = Path(__file__).parent / "data" / "provenance"
RAW: dict[str, Any] = json.loads((DATA / "single.json").read_text())


def mutated(change: Callable[[dict[str, Any]], None]) -> str:
    doc = copy.deepcopy(RAW)
    change(doc)
    return json.dumps(doc)


def exec_step(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["buildConfig"]["llbDefinition"] if "exec" in s["op"]["Op"])


def bad_mount_type(doc: dict[str, Any]) -> None:
    exec_step(doc)["op"]["Op"]["exec"]["mounts"][0]["mountType"] = "bind"


def unknown_mount_type(doc: dict[str, Any]) -> None:
    exec_step(doc)["op"]["Op"]["exec"]["mounts"][0]["mountType"] = 9


def args_not_strings(doc: dict[str, Any]) -> None:
    exec_step(doc)["op"]["Op"]["exec"]["meta"]["args"] = ["/bin/sh", 3]


def steps_out_of_order(doc: dict[str, Any]) -> None:
    doc["buildConfig"]["llbDefinition"][1]["id"] = "step7"


def input_from_a_later_step(doc: dict[str, Any]) -> None:
    doc["buildConfig"]["llbDefinition"][1]["inputs"] = ["step5:0"]


def input_not_a_step(doc: dict[str, Any]) -> None:
    doc["buildConfig"]["llbDefinition"][1]["inputs"] = ["context"]


def bad_time(doc: dict[str, Any]) -> None:
    doc["metadata"]["buildStartedOn"] = "yesterday"


def bad_dockerfile_data(doc: dict[str, Any]) -> None:
    doc["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["source"]["infos"][0][
        "data"
    ] = "not base64!"


def two_ops(doc: dict[str, Any]) -> None:
    exec_step(doc)["op"]["Op"]["source"] = {"identifier": "local://x"}


def layers_not_lists(doc: dict[str, Any]) -> None:
    doc["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["layers"]["step0:0"] = {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "provenance is not JSON"),
        ("{", "provenance is not JSON"),
        ("[]", "provenance $: expected an object, got a list"),
        ("{}", "not a SLSA provenance predicate"),
        (
            json.dumps({"predicateType": "https://spdx.dev/Document", "predicate": {}}),
            "not a SLSA provenance statement",
        ),
        (
            json.dumps({"predicateType": "https://slsa.dev/provenance/v9", "predicate": {}}),
            "unsupported SLSA provenance version",
        ),
        (
            json.dumps({"predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}),
            "SLSA v1 provenance without 'buildDefinition'",
        ),
        (
            json.dumps(
                {
                    "predicateType": "https://slsa.dev/provenance/v0.2",
                    "predicate": {"buildDefinition": {}},
                }
            ),
            "SLSA v0.2 statement holding a v1 predicate",
        ),
        (
            json.dumps({"payloadType": "text/plain", "payload": "aGk="}),
            "not an in-toto statement",
        ),
        (
            json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": "%%"}),
            "DSSE envelope payload is not base64 JSON",
        ),
        (mutated(bad_mount_type), "mounts[0].mountType: expected an integer, got the string"),
        (mutated(unknown_mount_type), "mounts[0].mountType: unknown value 9"),
        (mutated(args_not_strings), "meta.args[1]: expected a string, got the number 3"),
        (mutated(steps_out_of_order), "llbDefinition[1].id: expected 'step1', got 'step7'"),
        (mutated(input_from_a_later_step), "step5 is not an earlier step"),
        (mutated(input_not_a_step), "not a step output: 'context'"),
        (mutated(bad_time), "buildStartedOn: not an RFC 3339 time"),
        (mutated(bad_dockerfile_data), "infos[0].data: not base64"),
        (mutated(two_ops), "more than one op: exec, source"),
        (mutated(layers_not_lists), "['step0:0']: expected a list, got an object"),
    ],
)
def test_malformed_input_is_one_clear_line(data: str | bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_provenance(data)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_unknown_op_and_file_action_kinds_are_kept_raw() -> None:
    def newer_kinds(doc: dict[str, Any]) -> None:
        steps = doc["buildConfig"]["llbDefinition"]
        steps[0]["op"]["Op"] = {"teleport": {"to": "mars"}}
        copy_step = next(s for s in steps if "file" in s["op"]["Op"])
        copy_step["op"]["Op"]["file"]["actions"][0]["Action"] = {"chmod": {"path": "/x"}}

    p = decode_provenance(mutated(newer_kinds))
    assert p.steps[0].op.kind is OpKind.UNKNOWN
    assert p.steps[0].op.raw["Op"] == {"teleport": {"to": "mars"}}
    file_step = p.steps_of(OpKind.FILE)[0]
    assert file_step.op.file is not None
    assert file_step.op.file.actions[0].kind is FileActionKind.UNKNOWN


def test_min_mode_provenance_has_no_steps() -> None:
    def to_min(doc: dict[str, Any]) -> None:
        del doc["buildConfig"]
        del doc["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]

    p = decode_provenance(mutated(to_min))
    assert p.mode is ProvenanceMode.MIN
    assert p.steps == () and p.sources == () and p.layers == {}
    assert p.materials and p.request.secrets


def test_time_zones_and_nanoseconds() -> None:
    def set_times(doc: dict[str, Any]) -> None:
        doc["metadata"]["buildStartedOn"] = "2026-01-02T03:04:05.123456789Z"
        doc["metadata"]["buildFinishedOn"] = "2026-01-02T05:04:06+02:00"

    p = decode_provenance(mutated(set_times))
    assert p.metadata.started_on == pytest.approx(1767323045.123456789, abs=1e-6)
    assert p.metadata.finished_on == 1767323046.0
