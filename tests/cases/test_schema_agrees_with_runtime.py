"""``mleval schema cases`` takes what collection takes and flags what it rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cases._yaml import SUITE_SHAPE, read_yaml
from pytest_mleval.cases.jsonschema import eval_file_json_schema
from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.base import typed_reading
from pytest_mleval.metrics.registry import unknown_metric_problem

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema.Draft202012Validator(eval_file_json_schema())


def _verdicts(tmp_path: Path, validator: Any, body: str) -> tuple[bool, bool]:
    """(collection accepts it, the schema accepts it as a YAML 1.2 editor reads it)."""
    path = tmp_path / "t.eval.yaml"
    path.write_text(body)
    try:
        load_suite(path, known_metric=unknown_metric_problem)
        runtime = True
    except EvalFileError:
        runtime = False
    data, _ = read_yaml(path, SUITE_SHAPE)
    return runtime, not list(validator.iter_errors(typed_reading(data)))


@pytest.mark.parametrize(
    ("tools", "valid"),
    [
        ("[python:app:search]", True),
        ("[app:search]", True),
        ("[python:pkg.tools:search]", True),
        ("[{python: 'python:app:search', name: find}]", True),
        ("[{name: find, schema: {type: object}}]", True),
        ("[search]", False),
        ("[python:app]", False),
        ("[{name: find}]", False),
    ],
)
def test_tools_in_the_documented_string_form_validate(
    tmp_path: Path, validator: Any, tools: str, valid: bool
) -> None:
    # Suite, case and variant tools are one ToolSpec: all three spell a tool the same ways.
    for body in (
        f"tools: {tools}\ncases: [{{id: a, input: x}}]\n",
        f"cases: [{{id: a, input: x, tools: {tools}}}]\n",
        f"variants: [{{name: v, tools: {tools}}}]\ncases: [{{id: a, input: x}}]\n",
    ):
        assert _verdicts(tmp_path, validator, body) == (valid, valid), body


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("score_range", "[1, 5]", True),
        ("score_range", "[0, 10]", True),
        ("score_range", "[1, 2, 3]", False),
        ("score_range", "[5]", False),
        ("score_range", "[]", False),
        ("score_range", "[1.5, 5]", False),
        ("score_range", "[a, 5]", False),
        ("score_range", "1-5", True),
        ("scale", "[1, 5]", True),
        ("scale", "1-5", True),
        ("scale", "[1, 2, 3]", False),
        ("scale", "[1.5, 5]", False),
        ("scale", "five", False),
    ],
)
def test_judge_scale_is_two_integers_in_the_schema_as_at_runtime(
    tmp_path: Path, validator: Any, option: str, value: str, valid: bool
) -> None:
    body = f"metrics:\n  - judge: {{{option}: {value}}}\ncases: [{{id: a, input: x}}]\n"
    assert _verdicts(tmp_path, validator, body) == (valid, valid)


def test_judge_scale_schema_has_exactly_two_items() -> None:
    props = eval_file_json_schema()["$defs"]["options.judge"]["properties"]
    for option in ("scale", "score_range"):
        arrays = [s for s in props[option]["anyOf"] if s.get("type") == "array"]
        assert [(a["minItems"], a["maxItems"], a["items"]) for a in arrays] == [
            (2, 2, {"type": "integer"})
        ], option


@pytest.mark.parametrize(
    "written",
    ["true", "false", "yes", "no", "on", "Off", "YES", "y", "n", "t", "f", "'1'", "1", "0"],
)
@pytest.mark.parametrize(
    "template",
    [
        "metrics:\n  - exact: {{ignore_case: {v}}}\ncases: [{{id: a, input: x}}]\n",
        "cases:\n  - id: a\n    input: x\n    metrics:\n      - exact: {{case: {v}}}\n",
        "stream: {v}\ncases: [{{id: a, input: x}}]\n",
        "allow_tool_errors: {v}\ncases: [{{id: a, input: x}}]\n",
    ],
    ids=["suite-option", "case-option", "stream", "allow_tool_errors"],
)
def test_a_boolean_the_runtime_reads_the_schema_takes(
    tmp_path: Path, validator: Any, template: str, written: str
) -> None:
    assert _verdicts(tmp_path, validator, template.format(v=written)) == (True, True)


@pytest.mark.parametrize("written", ["maybe", "2", "0.5", "[true]", "'yes please'", "ja"])
@pytest.mark.parametrize(
    "template",
    [
        "metrics:\n  - exact: {{ignore_case: {v}}}\ncases: [{{id: a, input: x}}]\n",
        "stream: {v}\ncases: [{{id: a, input: x}}]\n",
    ],
    ids=["option", "stream"],
)
def test_a_boolean_the_runtime_rejects_the_schema_flags(
    tmp_path: Path, validator: Any, template: str, written: str
) -> None:
    assert _verdicts(tmp_path, validator, template.format(v=written)) == (False, False)
