"""The suite key `stream:`: read strictly, in the JSON schema editors get, carried by the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cases.schema import SuiteSpec
from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError

BODY = "target: model:openai/m\n{key}cases:\n  - {{id: a, input: hi}}\n"


def load(tmp_path: Path, key: str) -> SuiteSpec:
    path = tmp_path / "s.eval.yaml"
    path.write_text(BODY.format(key=key))
    return load_suite(path).spec


def test_stream_defaults_off_and_reads_true(tmp_path: Path) -> None:
    assert load(tmp_path, "").stream is False
    assert load(tmp_path, "stream: true\n").stream is True
    assert load(tmp_path, "stream: false\n").stream is False


def test_stream_that_is_not_a_boolean_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="stream"):
        load(tmp_path, "stream: often\n")


def test_stream_is_in_the_cases_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    from pytest_mleval.cli import main

    assert main(["schema", "cases"]) == 0
    schema = json.loads(capsys.readouterr().out)
    prop = schema["properties"]["stream"]
    # A boolean, or a word the runtime reads as one (`stream: yes`).
    assert {"type": "boolean"} in prop["anyOf"] and "ttft_ms" in prop["description"]
    jsonschema.validate({"stream": True, "cases": []}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"stream": "often", "cases": []}, schema)
